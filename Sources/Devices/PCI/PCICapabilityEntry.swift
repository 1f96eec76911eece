/// A capability placed in config space at `offset`, with the pointer to the
/// one after it (0 ends the list).
struct PCICapabilityEntry: Sendable {
    let offset: Int
    let capability: any PCICapability
    var next: Int = 0

    /// Where the capability's bytes end, padded to a dword so that the next
    /// one starts aligned.
    var paddedEnd: Int { offset + (capability.length + 3) / 4 * 4 }
}
