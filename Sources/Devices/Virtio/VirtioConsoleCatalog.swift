extension VirtioConsole {
    /// `console`: the guest's hvc0. The device is built without a sink (it
    /// drops and counts guest output until `attach(output:)`); whoever owns
    /// lkvm's standard input and output finds it (`as? VirtioConsole`),
    /// attaches stdout and feeds stdin to `receive(_:)`.
    public static let catalogEntry = VirtioCatalogEntry(
        name: "console", type: .console, summary: "the guest's hvc0 on lkvm's standard input and output",
        make: { argument throws(VirtioCatalogError) in
            try VirtioDeviceCatalog.noArgument("console", argument)
            return VirtioConsole()
        })
}
