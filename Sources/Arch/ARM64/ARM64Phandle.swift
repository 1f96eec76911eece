/// The phandles of the nodes others point at. Fixed numbers: the tree has
/// one of each, and tests can check references without resolving them.
enum ARM64Phandle {
    static let gic: UInt32 = 1
    static let its: UInt32 = 2
    static let apbClock: UInt32 = 3
}
