/// Where a PCI function sits: bus, device (slot) and function number.
/// Values are stored as given; `PCIRoot.attach` refuses a device >= 32 or a
/// function >= 8.
public struct PCIDeviceAddress: Hashable, Comparable, Sendable, CustomStringConvertible {
    public static let deviceCount: UInt8 = 32
    public static let functionCount: UInt8 = 8

    public let bus: UInt8
    public let device: UInt8
    public let function: UInt8

    public init(bus: UInt8 = 0, device: UInt8, function: UInt8 = 0) {
        self.bus = bus
        self.device = device
        self.function = function
    }

    /// The ID the function puts on its requests (an arm64 ITS's device ID):
    /// bus in bits 15:8, device in 7:3, function in 2:0.
    public var requesterID: UInt16 {
        UInt16(bus) << 8 | UInt16(device & 0x1F) << 3 | UInt16(function & 0x7)
    }

    /// "bb:dd.f" in hexadecimal, as lspci prints it.
    public var description: String {
        "\(paddedHex(bus, digits: 2)):\(paddedHex(device, digits: 2)).\(String(function, radix: 16))"
    }

    public static func < (lhs: PCIDeviceAddress, rhs: PCIDeviceAddress) -> Bool {
        (lhs.bus, lhs.device, lhs.function) < (rhs.bus, rhs.device, rhs.function)
    }

    private func paddedHex(_ value: UInt8, digits: Int) -> String {
        let text = String(value, radix: 16)
        return String(repeating: "0", count: max(0, digits - text.count)) + text
    }
}
