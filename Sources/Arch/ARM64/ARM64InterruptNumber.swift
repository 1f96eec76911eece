import CKVM

/// KVM_IRQ_LINE's `irq` field on arm64: type << 24 | vCPU << 16 | INTID.
/// Board `irq` values are SPI numbers; the GIC's INTID is 32 + SPI.
public enum ARM64InterruptNumber {
    /// The first SPI's INTID (INTIDs 0-15 are SGIs, 16-31 PPIs).
    public static let firstSPI = 32

    /// The KVM_IRQ_LINE value for SPI `spi` (the vCPU field is ignored for SPIs).
    public static func spi(_ spi: Int) -> Int {
        Int(CKVM_ARM_IRQ_TYPE_SPI) << Int(CKVM_ARM_IRQ_TYPE_SHIFT) | (firstSPI + spi)
    }
}
