import LKVMCore
import LKVMDevices
import Synchronization

/// The PC keyboard controller (Intel 8042 / IBM PS/2 controller) at 0x60/0x64,
/// with a minimal keyboard on its first port and no auxiliary (mouse) port.
///
/// It answers Linux's i8042 probe without timeouts and resets the machine
/// for `reboot=k` (pulse command 0xFE, or an output-port write clearing bit 0).
/// The AUX port reads as broken: the AUX loopback (0xD3) returns its byte
/// without the AUX-data status flag and the AUX interface test (0xA9) reports
/// 0x01, "clock line stuck low", so Linux gives up on a mouse at once instead
/// of waiting 250 ms for an IRQ 12 that will never come.
///
/// Bytes the keyboard answers drive `keyboardInterrupt` (IRQ 1) while the
/// CTR enables it; each byte in the output buffer gets a fresh rising edge,
/// as the real one-byte buffer does. The line is called with the lock held
/// and must not call back; `onReset` is called after the lock is dropped.
public final class I8042: BusDevice {
    /// The board maps offsets 0...4: data at 0, status/command at 4.
    public static let portSpan: UInt64 = 5
    static let dataOffset: UInt64 = 0
    static let commandOffset: UInt64 = 4

    private let keyboardInterrupt: (any InterruptLine)?
    private let onReset: @Sendable () -> Void
    private let state = Mutex(KeyboardControllerState())

    public init(keyboardInterrupt: (any InterruptLine)? = nil, onReset: @escaping @Sendable () -> Void) {
        self.keyboardInterrupt = keyboardInterrupt
        self.onReset = onReset
    }

    public func read(offset: UInt64, size: Int) -> UInt64 {
        switch offset {
        case Self.dataOffset:
            return state.withLock { controller in
                let byte = controller.readData()
                updateLine(&controller, byteConsumed: true)
                return UInt64(byte)
            }
        case Self.commandOffset:
            return UInt64(state.withLock { $0.status })
        default:
            return 0xFF  // 0x61-0x63 are not ours: float high
        }
    }

    public func write(offset: UInt64, size: Int, value: UInt64) {
        let byte = UInt8(truncatingIfNeeded: value)
        let resetRequested: Bool
        switch offset {
        case Self.dataOffset:
            resetRequested = state.withLock { controller in
                let reset = controller.writeData(byte)
                updateLine(&controller, byteConsumed: false)
                return reset
            }
        case Self.commandOffset:
            resetRequested = state.withLock { controller in
                let reset = controller.writeCommand(byte)
                updateLine(&controller, byteConsumed: false)
                return reset
            }
        default:
            return
        }
        if resetRequested { onReset() }
    }

    private func updateLine(_ controller: inout KeyboardControllerState, byteConsumed: Bool) {
        guard let line = keyboardInterrupt else { return }
        let asserted = controller.keyboardInterruptPending
        // A consumed byte lowers the line so the next one makes a new edge.
        if controller.lineAsserted, !asserted || byteConsumed {
            line.setLevel(false)
            controller.lineAsserted = false
        }
        if asserted, !controller.lineAsserted {
            line.setLevel(true)
            controller.lineAsserted = true
        }
    }
}

/// Command, status and configuration bits of the 8042.
enum I8042Bits {
    // Status register
    static let outputFull: UInt8 = 0x01
    static let systemFlag: UInt8 = 0x04
    static let lastWriteWasCommand: UInt8 = 0x08
    static let keyboardNotInhibited: UInt8 = 0x10
    // Controller configuration byte (CTR), internal RAM byte 0
    static let keyboardInterruptEnable: UInt8 = 0x01
    static let keyboardDisable: UInt8 = 0x10
    static let auxDisable: UInt8 = 0x20
    static let translate: UInt8 = 0x40
    /// As firmware leaves it: keyboard interrupt on, system flag, translation, AUX off.
    static let defaultConfiguration: UInt8 = keyboardInterruptEnable | systemFlag | auxDisable | translate
    // Output port
    static let resetLineHigh: UInt8 = 0x01  // the CPU reset line is active low
}

/// The controller's registers and its keyboard; guarded by the device's mutex.
struct KeyboardControllerState {
    private var ram = [UInt8](repeating: 0, count: 32)
    private var output = ByteQueue(capacity: 16)
    private var lastOutput: UInt8 = 0
    private var commandAwaitingData: UInt8?
    private var outputPort: UInt8 = 0xCF  // reset high, A20 on, both clocks and data high
    private var lastWriteWasCommand = false
    private var keyboard = PS2Keyboard()
    var lineAsserted = false

    init() { ram[0] = I8042Bits.defaultConfiguration }

    private var configuration: UInt8 {
        get { ram[0] }
        set { ram[0] = newValue }
    }

    var status: UInt8 {
        var status = I8042Bits.keyboardNotInhibited | (configuration & I8042Bits.systemFlag)
        if !output.isEmpty { status |= I8042Bits.outputFull }
        if lastWriteWasCommand { status |= I8042Bits.lastWriteWasCommand }
        return status  // input buffer never full: writes are consumed at once
    }

    var keyboardInterruptPending: Bool {
        !output.isEmpty && configuration & I8042Bits.keyboardInterruptEnable != 0
    }

    /// An empty output buffer reads its last byte again.
    mutating func readData() -> UInt8 {
        if let byte = output.popFirst() { lastOutput = byte }
        return lastOutput
    }

    /// Returns true when the write asks for a CPU reset.
    mutating func writeCommand(_ command: UInt8) -> Bool {
        lastWriteWasCommand = true
        commandAwaitingData = nil
        switch command {
        case 0x20...0x3F: reply(ram[Int(command & 0x1F)])
        case 0x60...0x7F, 0xD1...0xD4: commandAwaitingData = command
        case 0xA7: configuration |= I8042Bits.auxDisable
        case 0xA8: configuration &= ~I8042Bits.auxDisable
        case 0xA9: reply(0x01)  // AUX interface test: clock line stuck low
        case 0xAA:
            configuration |= I8042Bits.systemFlag
            reply(0x55)  // self test passed
        case 0xAB: reply(0x00)  // keyboard interface test passed
        case 0xAD: configuration |= I8042Bits.keyboardDisable
        case 0xAE: configuration &= ~I8042Bits.keyboardDisable
        case 0xD0: reply(outputPort)
        case 0xE0: reply(0x00)  // test inputs
        case 0xF0...0xFF: return command & I8042Bits.resetLineHigh == 0  // pulse: 0 bits pulse low
        default: break  // unknown commands are ignored, as by real controllers
        }
        return false
    }

    /// Returns true when the write asks for a CPU reset.
    mutating func writeData(_ value: UInt8) -> Bool {
        lastWriteWasCommand = false
        guard let command = commandAwaitingData else {
            let answer = keyboard.receive(value, translated: configuration & I8042Bits.translate != 0)
            _ = output.append(contentsOf: answer)  // a host that never reads loses the excess
            return false
        }
        commandAwaitingData = nil
        switch command {
        case 0x60...0x7F: ram[Int(command & 0x1F)] = value
        case 0xD1:
            outputPort = value
            return value & I8042Bits.resetLineHigh == 0
        case 0xD2, 0xD3: reply(value)  // echoed as keyboard data: there is no AUX port
        default: break  // 0xD4: no mouse to send to
        }
        return false
    }

    /// A controller answer supersedes stale bytes, as in the one-byte buffer.
    private mutating func reply(_ byte: UInt8) {
        output.removeAll()
        _ = output.append(contentsOf: [byte])
    }
}

/// Just enough of a PS/2 keyboard for Linux's atkbd to identify it.
struct PS2Keyboard {
    private var commandAwaitingParameter: UInt8?

    static let acknowledge: UInt8 = 0xFA
    static let resend: UInt8 = 0xFE

    /// The bytes the keyboard answers to one byte from the host.
    mutating func receive(_ byte: UInt8, translated: Bool) -> [UInt8] {
        if let command = commandAwaitingParameter {
            commandAwaitingParameter = nil
            // 0xF0 0x00 asks for the current scan code set: set 2.
            return command == 0xF0 && byte == 0 ? [Self.acknowledge, 0x02] : [Self.acknowledge]
        }
        switch byte {
        case 0xED, 0xF0, 0xF3:  // LEDs, scan code set, typematic: a parameter follows
            commandAwaitingParameter = byte
            return [Self.acknowledge]
        case 0xEE: return [0xEE]  // echo
        case 0xF2: return [Self.acknowledge, 0xAB, translated ? 0x41 : 0x83]  // MF2 keyboard id
        case 0xF4, 0xF5, 0xF6: return [Self.acknowledge]  // enable, disable, defaults
        case 0xFF: return [Self.acknowledge, 0xAA]  // reset, self test passed
        default: return [Self.resend]
        }
    }
}
