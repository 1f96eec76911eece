import LKVMCore
import Synchronization

/// An ARM PrimeCell UART (PL011, r1p5), enough for Linux's amba-pl011
/// driver (ttyAMA0) and its earlycon to run it interrupt-driven both ways:
/// the AMBA identification registers, data, receive status, flags, baud
/// rate and line control, control, FIFO levels, the interrupt mask, status
/// and clear registers, DMA control (stored; no DMA).
///
/// The interrupt output is a level: asserted while any unmasked interrupt is
/// raised (UARTINTR). The line and the output sink are called with the
/// device lock held so that their calls keep the order of the state changes;
/// neither may call back into this device.
public final class PL011: BusDevice {
    /// PL011 r1p5: part 0x011, designer ARM (0x41), revision 3.
    public static let identity = PrimeCellIdentity(peripheralID: 0x0034_1011)
    public static let defaultReceiveCapacity = 64 * 1024
    /// The register window, ID registers included.
    public static let length: UInt64 = 0x1000

    private let interrupt: any InterruptLine
    private let output: any ConsoleOutput
    private let state: Mutex<PL011State>

    public init(interrupt: any InterruptLine, output: any ConsoleOutput,
                receiveCapacity: Int = PL011.defaultReceiveCapacity) {
        self.interrupt = interrupt
        self.output = output
        state = Mutex(PL011State(receiveCapacity: receiveCapacity))
    }

    public func read(offset: UInt64, size: Int) -> UInt64 {
        guard AMBARegisterAccess.isValidSize(size) else { return floatingBusValue(size: size) }
        let (word, shift) = AMBARegisterAccess.word(offset)
        if let id = Self.identity.register(at: word) {
            return AMBARegisterAccess.narrow(UInt64(id) >> shift, size: size)
        }
        guard let register = PL011Register(rawValue: word) else { return 0 }
        // Only an access at the start of DR pops a byte.
        if register == .data, shift != 0 { return 0 }
        return state.withLock { uart in
            let value = uart.read(register)
            updateLine(&uart)
            return AMBARegisterAccess.narrow(UInt64(value) >> shift, size: size)
        }
    }

    public func write(offset: UInt64, size: Int, value: UInt64) {
        guard AMBARegisterAccess.isValidSize(size), offset & 3 == 0,
              let register = PL011Register(rawValue: offset) else { return }
        state.withLock { uart in
            if let transmitted = uart.write(register, UInt32(truncatingIfNeeded: value)) {
                output.write([transmitted])
            }
            updateLine(&uart)
        }
    }

    /// Queues host input for the guest; returns how many bytes fitted. The
    /// rest are dropped and the guest sees an overrun.
    @discardableResult
    public func receive(_ bytes: [UInt8]) -> Int {
        guard !bytes.isEmpty else { return 0 }
        return state.withLock { uart in
            let accepted = uart.receive(bytes)
            updateLine(&uart)
            return accepted
        }
    }

    /// A break condition, then `bytes` (Linux's magic SysRq on its console
    /// port); false when there is no room or a break is still unread.
    public func receiveBreak(followedBy bytes: [UInt8]) -> Bool {
        state.withLock { uart in
            let queued = uart.receiveBreak(followedBy: bytes)
            updateLine(&uart)
            return queued
        }
    }

    /// Host input bytes dropped because the backlog was full.
    public var droppedInputBytes: Int { state.withLock { $0.droppedBytes } }

    private func updateLine(_ uart: inout PL011State) {
        let asserted = uart.maskedInterruptStatus != 0
        guard asserted != uart.lineAsserted else { return }
        uart.lineAsserted = asserted
        interrupt.setLevel(asserted)
    }
}
