/// How trace lines spell numbers, status bits, feature bits and chains.
/// Stable on purpose: people grep for these words.
enum VirtioTraceFormat {
    /// More descriptors than this in one chain are summarised as `... (+N more)`.
    static let maxDescriptorsShown = 32

    static func hex<T: BinaryInteger>(_ value: T) -> String {
        "0x" + String(value, radix: 16)
    }

    /// `ACKNOWLEDGE|DRIVER|FEATURES_OK (0xb)`, in the order a driver sets the
    /// bits; unknown bits as hex; `0` for none.
    static func status(_ value: UInt32) -> String {
        let named: [(UInt32, String)] = [
            (VirtioStatus.acknowledge, "ACKNOWLEDGE"), (VirtioStatus.driver, "DRIVER"),
            (VirtioStatus.featuresOK, "FEATURES_OK"), (VirtioStatus.driverOK, "DRIVER_OK"),
            (VirtioStatus.deviceNeedsReset, "DEVICE_NEEDS_RESET"), (VirtioStatus.failed, "FAILED"),
        ]
        var names = named.filter { value & $0.0 != 0 }.map(\.1)
        let known = named.reduce(UInt32(0)) { $0 | $1.0 }
        if value & ~known != 0 { names.append(hex(value & ~known)) }
        return names.isEmpty ? "0" : "\(names.joined(separator: "|")) (\(hex(value)))"
    }

    /// `0x130000000 INDIRECT_DESC|EVENT_IDX|VERSION_1`: the bits by name,
    /// device-specific ones by the device type's names, others as `bit41`.
    static func features(_ value: UInt64, type: VirtioDeviceType) -> String {
        "\(hex(value)) \(featureNames(value, type: type))"
    }

    static func featureNames(_ value: UInt64, type: VirtioDeviceType) -> String {
        let names = (0..<64).filter { value >> $0 & 1 != 0 }.map { bit in
            VirtioTraceFeatureNames.name(ofBit: bit, type: type) ?? "bit\(bit)"
        }
        return names.isEmpty ? "none" : names.joined(separator: "|")
    }

    /// `[R 16 @0x10000] indirect @0x5000 (2 descriptors): [R 16 @0x6000] [W 1 @0x7000]`
    static func layout(_ layout: [VirtioTraceDescriptor]) -> String {
        guard !layout.isEmpty else { return "(no descriptors)" }
        var parts = layout.prefix(maxDescriptorsShown).map { descriptor in
            switch descriptor {
            case .buffer(let address, let length, let writable):
                "[\(writable ? "W" : "R") \(length) @\(hex(address))]"
            case .indirect(let address, let entries):
                "indirect @\(hex(address)) (\(entries) descriptors):"
            }
        }
        if layout.count > maxDescriptorsShown { parts.append("... (+\(layout.count - maxDescriptorsShown) more)") }
        return parts.joined(separator: " ")
    }
}
