/// A device that takes host console input for the guest (a UART, a virtio
/// console): lkvm's stdin goes to one of them.
public protocol ConsoleReceiver: AnyObject, Sendable {
    /// Queues `bytes` for the guest; returns how many fitted.
    @discardableResult
    func receive(_ bytes: [UInt8]) -> Int
}

extension Serial8250: ConsoleReceiver {}
extension PL011: ConsoleReceiver {}
extension VirtioConsole: ConsoleReceiver {}

/// A UART that can put a break condition on its receive line: how a serial
/// console asks Linux for a magic SysRq (break, then the command key).
public protocol BreakReceiver: ConsoleReceiver {
    func receiveBreak(followedBy bytes: [UInt8]) -> Bool
}

extension Serial8250: BreakReceiver {}
extension PL011: BreakReceiver {}
