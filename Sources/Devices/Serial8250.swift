import LKVMCore
import Synchronization

/// A 16550A-compatible UART (NS PC16550D datasheet), enough for Linux's 8250
/// driver to probe it as a 16550A and run it interrupt-driven both ways.
///
/// Transmission is instant: a byte written to THR reaches `output` at once,
/// so THR and the transmitter are always empty. Host input queues in a bounded
/// receive backlog that stands in for the 16-byte FIFO; bytes that do not fit
/// are dropped and reported as an overrun.
///
/// The interrupt output is a level: asserted while any enabled condition is
/// pending. OUT2 does not gate it (on PCs that gate is board wiring, and
/// guests other than Linux may never set OUT2). The line and the output sink
/// are called with the device lock held so that their calls keep the order of
/// the state changes; neither may call back into this device.
public final class Serial8250: BusDevice {
    public static let defaultReceiveCapacity = 64 * 1024

    private let registerShift: Int
    private let interrupt: any InterruptLine
    private let output: any ConsoleOutput
    private let state: Mutex<UARTState>

    /// - Parameter registerShift: register `n` sits at offset `n << registerShift`
    ///   (0 for port I/O; the devicetree `reg-shift` for MMIO).
    public init(interrupt: any InterruptLine, output: any ConsoleOutput,
                registerShift: Int = 0, receiveCapacity: Int = Serial8250.defaultReceiveCapacity) {
        precondition((0...4).contains(registerShift), "8250 register shift \(registerShift) is not 0...4")
        self.registerShift = registerShift
        self.interrupt = interrupt
        self.output = output
        state = Mutex(UARTState(receiveCapacity: receiveCapacity))
    }

    /// Bytes of address space the registers span: what the board should map.
    public var length: UInt64 { UInt64(UARTRegister.count) << UInt64(registerShift) }

    public func read(offset: UInt64, size: Int) -> UInt64 {
        guard let register = register(at: offset, size: size) else { return floatingBusValue(size: size) }
        return state.withLock { uart in
            let value = uart.read(register)
            updateLine(&uart)
            return UInt64(value)
        }
    }

    public func write(offset: UInt64, size: Int, value: UInt64) {
        guard let register = register(at: offset, size: size) else { return }
        state.withLock { uart in
            if let transmitted = uart.write(register, UInt8(truncatingIfNeeded: value)) {
                output.write([transmitted])
            }
            updateLine(&uart)
        }
    }

    /// Queues host input for the guest; returns how many bytes fitted. The rest
    /// are dropped and counted, and the guest sees an overrun (LSR.OE).
    @discardableResult
    public func receive(_ bytes: [UInt8]) -> Int {
        guard !bytes.isEmpty else { return 0 }
        return state.withLock { uart in
            let accepted = uart.receive(bytes)
            updateLine(&uart)
            return accepted
        }
    }

    /// A break condition on the line, then `bytes`: the break arrives as a NUL
    /// character flagged with LSR.BI, which Linux takes as the start of a
    /// magic SysRq sequence on its console port. False when the backlog has
    /// no room or a break is still waiting to be read.
    public func receiveBreak(followedBy bytes: [UInt8]) -> Bool {
        state.withLock { uart in
            guard uart.breakIndex == nil, uart.receiveQueue.room >= bytes.count + 1 else { return false }
            uart.breakIndex = uart.receiveQueue.count
            _ = uart.receive([0] + bytes)
            updateLine(&uart)
            return true
        }
    }

    /// Free room in the receive backlog, so an input thread can wait rather than drop.
    public var receiveRoom: Int { state.withLock { $0.receiveQueue.room } }

    /// Host input bytes dropped because the backlog was full.
    public var droppedInputBytes: Int { state.withLock { $0.droppedBytes } }

    private func register(at offset: UInt64, size: Int) -> UARTRegister? {
        guard size == 1 || size == 2 || size == 4 || size == 8 else { return nil }
        let strideMask = (UInt64(1) << UInt64(registerShift)) - 1
        guard offset & strideMask == 0 else { return nil }
        return UARTRegister(rawValue: offset >> UInt64(registerShift))
    }

    private func updateLine(_ uart: inout UARTState) {
        let asserted = uart.pendingInterrupt != nil
        guard asserted != uart.lineAsserted else { return }
        uart.lineAsserted = asserted
        interrupt.setLevel(asserted)
    }
}

/// Register slots; which register a slot means can depend on LCR.DLAB and on
/// the access direction (the datasheet's table 2).
enum UARTRegister: UInt64 {
    case data = 0, interruptEnable, interruptIdentOrFIFOControl, lineControl
    case modemControl, lineStatus, modemStatus, scratch
    static let count = 8
}

/// Bit meanings from the datasheet.
enum UARTBits {
    // IER
    static let receivedDataInterrupt: UInt8 = 0x01
    static let transmitterEmptyInterrupt: UInt8 = 0x02
    static let lineStatusInterrupt: UInt8 = 0x04
    static let modemStatusInterrupt: UInt8 = 0x08
    // IIR identifications, highest priority first; 0x01 means none pending.
    static let identLineStatus: UInt8 = 0x06
    static let identReceivedData: UInt8 = 0x04
    static let identTransmitterEmpty: UInt8 = 0x02
    static let identModemStatus: UInt8 = 0x00
    static let identNone: UInt8 = 0x01
    static let identFIFOsEnabled: UInt8 = 0xC0
    // FCR
    static let fifoEnable: UInt8 = 0x01
    static let clearReceiveFIFO: UInt8 = 0x02
    static let fifoSettings: UInt8 = 0xC9  // enable, DMA mode, trigger level
    // LCR
    static let divisorLatchAccess: UInt8 = 0x80
    // MCR
    static let loopback: UInt8 = 0x10
    static let modemControlWritable: UInt8 = 0x1F
    // LSR
    static let dataReady: UInt8 = 0x01
    static let overrunError: UInt8 = 0x02
    static let breakInterrupt: UInt8 = 0x10
    static let transmitterHoldingEmpty: UInt8 = 0x20
    static let transmitterEmpty: UInt8 = 0x40
    // MSR inputs: CTS, DSR, RI, DCD; deltas live in the low nibble.
    static let ringIndicator: UInt8 = 0x40
    static let modemInputsWhenConnected: UInt8 = 0xB0  // DCD | DSR | CTS
    static let trailingEdgeRing: UInt8 = 0x04
}

/// The UART's registers and queues; guarded by the device's mutex.
struct UARTState {
    var receiveQueue: ByteQueue
    var lastReceived: UInt8 = 0
    var interruptEnable: UInt8 = 0
    var fifoControl: UInt8 = 0
    var lineControl: UInt8 = 0
    var modemControl: UInt8 = 0
    var scratch: UInt8 = 0
    var divisorLatch: UInt16 = 12  // 9600 baud from 1.8432 MHz; only stored
    var overrun = false
    /// Where in the receive queue a break's NUL character waits, if one does:
    /// LSR.BI is set while that character is the next one to read.
    var breakIndex: Int?
    var transmitterEmptyPending = false
    var modemStatusDeltas: UInt8 = 0
    var droppedBytes = 0
    var lineAsserted = false

    init(receiveCapacity: Int) { receiveQueue = ByteQueue(capacity: receiveCapacity) }

    private var divisorLatchSelected: Bool { lineControl & UARTBits.divisorLatchAccess != 0 }
    private var loopback: Bool { modemControl & UARTBits.loopback != 0 }
    private var fifosEnabled: Bool { fifoControl & UARTBits.fifoEnable != 0 }

    /// CTS, DSR, RI, DCD. In loopback they follow RTS, DTR, OUT1, OUT2, which
    /// is how Linux's autoconfig recognises a real 8250-family UART.
    var modemInputs: UInt8 {
        guard loopback else { return UARTBits.modemInputsWhenConnected }
        let mcr = modemControl
        return (mcr & 0x02) << 3 | (mcr & 0x01) << 5 | (mcr & 0x04) << 4 | (mcr & 0x08) << 4
    }

    /// The IIR identification of the highest-priority enabled condition.
    var pendingInterrupt: UInt8? {
        let enabled = interruptEnable
        if enabled & UARTBits.lineStatusInterrupt != 0, overrun || breakIndex == 0 { return UARTBits.identLineStatus }
        if enabled & UARTBits.receivedDataInterrupt != 0, !receiveQueue.isEmpty { return UARTBits.identReceivedData }
        if enabled & UARTBits.transmitterEmptyInterrupt != 0, transmitterEmptyPending {
            return UARTBits.identTransmitterEmpty
        }
        if enabled & UARTBits.modemStatusInterrupt != 0, modemStatusDeltas != 0 { return UARTBits.identModemStatus }
        return nil
    }

    mutating func read(_ register: UARTRegister) -> UInt8 {
        switch register {
        case .data:
            if divisorLatchSelected { return UInt8(truncatingIfNeeded: divisorLatch) }
            if let byte = receiveQueue.popFirst() {
                lastReceived = byte
                breakIndex = breakIndex.flatMap { $0 == 0 ? nil : $0 - 1 }
            }
            return lastReceived  // an empty receiver repeats the last byte
        case .interruptEnable:
            return divisorLatchSelected ? UInt8(truncatingIfNeeded: divisorLatch >> 8) : interruptEnable
        case .interruptIdentOrFIFOControl:
            return readInterruptIdentification()
        case .lineControl:
            return lineControl
        case .modemControl:
            return modemControl
        case .lineStatus:
            var status = UARTBits.transmitterHoldingEmpty | UARTBits.transmitterEmpty
            if !receiveQueue.isEmpty { status |= UARTBits.dataReady }
            if overrun { status |= UARTBits.overrunError }
            if breakIndex == 0 { status |= UARTBits.breakInterrupt }
            overrun = false  // reading LSR clears the error bits
            return status
        case .modemStatus:
            let status = modemInputs | modemStatusDeltas
            modemStatusDeltas = 0
            return status
        case .scratch:
            return scratch
        }
    }

    /// Applies a register write; returns a byte to transmit, if any.
    mutating func write(_ register: UARTRegister, _ value: UInt8) -> UInt8? {
        switch register {
        case .data:
            if divisorLatchSelected {
                divisorLatch = divisorLatch & 0xFF00 | UInt16(value)
                return nil
            }
            // THR empties at once, so its interrupt is pending again right away.
            transmitterEmptyPending = true
            guard loopback else { return value }
            _ = receive([value])
            return nil
        case .interruptEnable:
            if divisorLatchSelected {
                divisorLatch = divisorLatch & 0x00FF | UInt16(value) << 8
                return nil
            }
            let newlyEnabled = value & ~interruptEnable
            // Enabling ETBEI while THR is empty raises the THRE interrupt.
            if newlyEnabled & UARTBits.transmitterEmptyInterrupt != 0 { transmitterEmptyPending = true }
            interruptEnable = value & 0x0F  // the upper nibble reads back as zero on a 16550A
        case .interruptIdentOrFIFOControl:
            writeFIFOControl(value)
        case .lineControl:
            lineControl = value
        case .modemControl:
            let inputsBefore = modemInputs
            modemControl = value & UARTBits.modemControlWritable
            recordModemInputChanges(from: inputsBefore, to: modemInputs)
        case .lineStatus, .modemStatus:
            break  // factory-test writes: ignored
        case .scratch:
            scratch = value
        }
        return nil
    }

    mutating func receive(_ bytes: [UInt8]) -> Int {
        let accepted = receiveQueue.append(contentsOf: bytes)
        if accepted < bytes.count {
            overrun = true
            droppedBytes += bytes.count - accepted
        }
        return accepted
    }

    private mutating func readInterruptIdentification() -> UInt8 {
        let pending = pendingInterrupt
        // Reporting THRE acknowledges it; the other sources clear at their registers.
        if pending == UARTBits.identTransmitterEmpty { transmitterEmptyPending = false }
        return (pending ?? UARTBits.identNone) | (fifosEnabled ? UARTBits.identFIFOsEnabled : 0)
    }

    private mutating func writeFIFOControl(_ value: UInt8) {
        let enable = value & UARTBits.fifoEnable != 0
        // Changing FIFO enable empties the FIFOs; the other bits need enable set.
        if enable != fifosEnabled || (enable && value & UARTBits.clearReceiveFIFO != 0) {
            receiveQueue.removeAll()
            breakIndex = nil
        }
        fifoControl = enable ? value & UARTBits.fifoSettings : 0
    }

    private mutating func recordModemInputChanges(from before: UInt8, to after: UInt8) {
        let changed = before ^ after
        // DCTS, DDSR and DDCD flag any change; TERI only RI going inactive.
        var deltas = (changed & 0x30) >> 4 | (changed & 0x80) >> 4
        if before & UARTBits.ringIndicator != 0, after & UARTBits.ringIndicator == 0 {
            deltas |= UARTBits.trailingEdgeRing
        }
        modemStatusDeltas |= deltas
    }
}

