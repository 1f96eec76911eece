extension VirtioNet {
    /// The catalog's "net": `mode=tap,tapif=NAME[,guest_mac=XX:XX:XX:XX:XX:XX]`
    /// (`mac=` too) or `mode=user[,hostfwd=tcp:HOSTPORT-:GUESTPORT]...`. The
    /// TAP interface is opened, or libslirp set up with its host ports bound,
    /// here, so a missing permission or a taken port fails before the guest starts; host packets flow only
    /// once the owner calls `start()` (and `stop()` at the end).
    public static let catalogEntry = VirtioCatalogEntry(
        name: "net", type: .network,
        summary: "a network card on a host TAP interface or libslirp (user mode): mode=tap,tapif=NAME or "
            + "mode=user[,hostfwd=tcp:HOSTPORT-:GUESTPORT]..., then [,guest_mac=XX:XX:XX:XX:XX:XX]",
        make: { argument throws(VirtioCatalogError) in
            let text = argument ?? ""
            let options: NetOptions
            do throws(NetOptionsError) {
                options = try NetOptions(parsing: text)
            } catch {
                throw .badArgument(device: "net", argument: text, reason: error.description)
            }
            switch options.mode {
            case .tap(let interface):
                do throws(NetBackendError) {
                    return VirtioNet(backend: try TapBackend(name: interface), mac: options.mac)
                } catch {
                    throw .badArgument(device: "net", argument: text, reason: error.description)
                }
            case .user(let hostForwards):
                do throws(SlirpBackendError) {
                    return VirtioNet(backend: try SlirpBackend(hostForwards: hostForwards), mac: options.mac)
                } catch {
                    throw .badArgument(device: "net", argument: text, reason: error.description)
                }
            }
        })
}
