/// The two spaces a BAR can decode, each enabled by its own command bit.
enum PCIAddressSpace: Sendable, Equatable {
    case memory
    case io
}
