import LKVMCore

/// Where the kernel, initrd and device tree go in guest RAM, following
/// Documentation/arch/arm64/booting.rst:
/// - the kernel at a 2 MiB aligned base + text_offset; its whole image_size
///   (bss included) must be RAM;
/// - the device tree 8-byte aligned, at most 2 MiB, in a 2 MiB region of its own;
/// - the initrd inside a 1 GiB aligned window of at most 32 GiB that covers the kernel.
///
/// The kernel goes at the start of the first RAM bank (image flag bit 3 clear
/// asks for that, and it is always allowed); the device tree takes the last
/// whole 2 MiB of the bank (capped to the initrd window) and the initrd sits
/// just below it. Keeping both at the top leaves the RAM after the kernel in
/// one piece and far from the kernel's bss and early page tables, whatever
/// image_size says.
public struct ARM64BootLayout: Equatable, Sendable {
    public static let deviceTreeMaxSize: UInt64 = 2 << 20
    /// The initrd must share a 1 GiB aligned window of at most 32 GiB with the kernel.
    static let initrdWindowAlignment: UInt64 = 1 << 30
    static let initrdWindowSize: UInt64 = 32 << 30

    /// Where the Image is copied; also the entry point (the PC at boot).
    public let kernelLoad: GuestAddress
    /// `[kernelLoad, kernelLoad + image_size)`: nothing else may go there.
    public let kernel: GuestRange
    /// Start of the device tree's 2 MiB region; x0 at boot.
    public let deviceTree: GuestAddress
    public let initrd: GuestRange?

    public init(ram: [GuestRange], image: ARM64Image, initrdSize: UInt64?) throws(ARM64BootLayoutError) {
        guard let bank = ram.first else { throw .noRAM }
        let base = Self.alignUp(bank.start.raw, ARM64Image.baseAlignment)
        let load = GuestAddress(base + image.textOffset)
        guard let kernel = GuestRange(start: load, size: image.imageSize), base >= bank.start.raw, kernel.end <= bank.end
        else {
            throw .kernelDoesNotFit(imageSize: image.imageSize, load: load, bank: bank)
        }
        let windowEnd = Self.alignDown(load.raw, Self.initrdWindowAlignment) + Self.initrdWindowSize
        let top = Self.alignDown(min(bank.end, windowEnd), Self.deviceTreeMaxSize)
        guard top >= Self.deviceTreeMaxSize, top - Self.deviceTreeMaxSize >= kernel.end else {
            throw .noRoomForDeviceTree(kernelEnd: kernel.end, bank: bank)
        }
        let deviceTree = top - Self.deviceTreeMaxSize
        var initrd: GuestRange?
        if let initrdSize {
            let available = deviceTree - kernel.end
            guard initrdSize <= available, Self.alignDown(deviceTree - initrdSize, 4096) >= kernel.end else {
                throw .initrdDoesNotFit(size: initrdSize, available: available)
            }
            initrd = GuestRange(start: GuestAddress(Self.alignDown(deviceTree - initrdSize, 4096)), size: initrdSize)
        }
        self.kernelLoad = load
        self.kernel = kernel
        self.deviceTree = GuestAddress(deviceTree)
        self.initrd = initrd
    }

    static func alignUp(_ value: UInt64, _ alignment: UInt64) -> UInt64 {
        (value + alignment - 1) & ~(alignment - 1)
    }

    static func alignDown(_ value: UInt64, _ alignment: UInt64) -> UInt64 {
        value & ~(alignment - 1)
    }
}
