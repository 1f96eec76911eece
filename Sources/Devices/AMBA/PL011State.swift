/// A PL011's registers and receive backlog; guarded by the device's mutex.
///
/// Transmission is instant, so the transmit FIFO is always empty and the
/// transmit interrupt is raised again by every byte written (the FIFO drops
/// to or below its trigger level at once). The receive FIFO is the front of
/// a bounded host-input backlog: FIFO flags and the receive trigger look at
/// its first `fifoDepth` bytes (1 with the FIFOs disabled). The receive
/// timeout interrupt stands for bytes below the trigger level waiting for
/// the guest, so a short input is delivered at once rather than after a
/// timeout.
struct PL011State {
    /// r1p5's FIFOs (the revision the peripheral ID reports): Linux sizes
    /// its transfers from the revision.
    static let fifoDepth = 32

    var receiveQueue: ByteQueue
    var droppedBytes = 0
    var overrun = false            // RSR.OE, until cleared through ECR
    var overrunPendingInData = false // the next DR read carries OE
    /// Where in the receive queue a break's NUL character waits, if one does:
    /// its DR read carries BE.
    var breakIndex: Int?
    var rawInterrupts: UInt32 = PL011Bits.transmitInterrupt
    var interruptMask: UInt32 = 0
    var integerBaudRate: UInt32 = 0
    var fractionalBaudRate: UInt32 = 0
    var lineControl: UInt32 = 0
    var control: UInt32 = PL011Bits.controlReset
    var fifoLevelSelect: UInt32 = PL011Bits.fifoLevelReset
    var dmaControl: UInt32 = 0
    var irdaLowPower: UInt32 = 0
    var lineAsserted = false

    init(receiveCapacity: Int) { receiveQueue = ByteQueue(capacity: receiveCapacity) }

    private var fifosEnabled: Bool { lineControl & PL011Bits.fifoEnable != 0 }
    var loopback: Bool { control & PL011Bits.loopbackEnable != 0 }

    /// Bytes the guest sees in its receive FIFO.
    private var fifoCount: Int { min(receiveQueue.count, fifosEnabled ? Self.fifoDepth : 1) }

    /// The receive interrupt's trigger level (IFLS.RXIFLSEL: 1/8 ... 7/8 full).
    private var receiveTrigger: Int {
        guard fifosEnabled else { return 1 }
        let eighths = [1, 2, 4, 6, 7][min(Int((fifoLevelSelect >> 3) & 7), 4)]
        return Self.fifoDepth * eighths / 8
    }

    /// RIS: the sticky bits (transmit, overrun) plus the receive conditions,
    /// which follow the FIFO's level.
    var rawInterruptStatus: UInt32 {
        var status = rawInterrupts & ~(PL011Bits.receiveInterrupt | PL011Bits.receiveTimeoutInterrupt)
        if fifoCount >= receiveTrigger { status |= PL011Bits.receiveInterrupt }
        else if fifoCount > 0 { status |= PL011Bits.receiveTimeoutInterrupt }
        return status
    }

    var maskedInterruptStatus: UInt32 { rawInterruptStatus & interruptMask }

    var flags: UInt32 {
        // A connected line (CTS, DSR, DCD) with an idle transmitter.
        var flags = PL011Bits.clearToSend | PL011Bits.dataSetReady | PL011Bits.dataCarrierDetect
            | PL011Bits.transmitFIFOEmpty
        if fifoCount == 0 { flags |= PL011Bits.receiveFIFOEmpty }
        if fifoCount == (fifosEnabled ? Self.fifoDepth : 1) { flags |= PL011Bits.receiveFIFOFull }
        return flags
    }

    mutating func read(_ register: PL011Register) -> UInt32 {
        switch register {
        case .data:
            guard let byte = receiveQueue.popFirst() else { return 0 }
            var value = UInt32(byte)
            if breakIndex == 0 { value |= PL011Bits.dataBreak }
            breakIndex = breakIndex.flatMap { $0 == 0 ? nil : $0 - 1 }
            if overrunPendingInData {
                value |= PL011Bits.dataOverrun
                overrunPendingInData = false
            }
            return value
        case .receiveStatus: return overrun ? PL011Bits.statusOverrun : 0
        case .flags: return flags
        case .irdaLowPower: return irdaLowPower
        case .integerBaudRate: return integerBaudRate
        case .fractionalBaudRate: return fractionalBaudRate
        case .lineControl: return lineControl
        case .control: return control
        case .fifoLevelSelect: return fifoLevelSelect
        case .interruptMask: return interruptMask
        case .rawInterruptStatus: return rawInterruptStatus
        case .maskedInterruptStatus: return maskedInterruptStatus
        case .interruptClear: return 0  // write-only
        case .dmaControl: return dmaControl
        }
    }

    /// Applies a register write; returns a byte to transmit, if any.
    mutating func write(_ register: PL011Register, _ value: UInt32) -> UInt8? {
        switch register {
        case .data:
            let byte = UInt8(truncatingIfNeeded: value)
            rawInterrupts |= PL011Bits.transmitInterrupt
            guard loopback else { return byte }
            _ = receive([byte])
            return nil
        case .receiveStatus: overrun = false  // UARTECR: any write clears the errors
        case .flags, .rawInterruptStatus, .maskedInterruptStatus: break  // read-only
        case .irdaLowPower: irdaLowPower = value & PL011Bits.irdaMask
        case .integerBaudRate: integerBaudRate = value & PL011Bits.integerBaudRateMask
        case .fractionalBaudRate: fractionalBaudRate = value & PL011Bits.fractionalBaudRateMask
        case .lineControl: lineControl = value & PL011Bits.lineControlMask
        case .control: control = value & PL011Bits.controlMask
        case .fifoLevelSelect: fifoLevelSelect = value & PL011Bits.fifoLevelMask
        case .interruptMask: interruptMask = value & PL011Bits.allInterrupts
        case .interruptClear: rawInterrupts &= ~(value & PL011Bits.allInterrupts)
        case .dmaControl: dmaControl = value & PL011Bits.dmaControlMask
        }
        return nil
    }

    /// Host input into the backlog; bytes that do not fit are dropped and
    /// flagged as an overrun.
    mutating func receive(_ bytes: [UInt8]) -> Int {
        let accepted = receiveQueue.append(contentsOf: bytes)
        if accepted < bytes.count {
            droppedBytes += bytes.count - accepted
            overrun = true
            overrunPendingInData = true
            rawInterrupts |= PL011Bits.overrunInterrupt
        }
        return accepted
    }

    /// A break on the line (a NUL read with DR.BE, and RIS.BEIS), then `bytes`.
    mutating func receiveBreak(followedBy bytes: [UInt8]) -> Bool {
        guard breakIndex == nil, receiveQueue.room >= bytes.count + 1 else { return false }
        breakIndex = receiveQueue.count
        _ = receive([0] + bytes)
        rawInterrupts |= PL011Bits.breakInterrupt
        return true
    }
}
