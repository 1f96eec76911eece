import LKVMCore

/// MSI-X registers of one function: the enable and function-mask bits, the
/// table and the pending bits. Pure state, guarded by `MSIXVectors`' lock.
struct MSIXState: Sendable {
    var isEnabled = false
    var isFunctionMasked = false
    var entries: [MSIXTableEntry]
    /// Bit v of word v / 64: vector v fired while masked.
    var pending: [UInt64]

    init(count: Int) {
        entries = Array(repeating: MSIXTableEntry(), count: count)
        pending = Array(repeating: 0, count: (count + 63) / 64)
    }

    func isPending(_ vector: Int) -> Bool { pending[vector / 64] & (1 << UInt64(vector % 64)) != 0 }

    mutating func setPending(_ vector: Int, _ isPending: Bool) {
        let bit = UInt64(1) << UInt64(vector % 64)
        if isPending { pending[vector / 64] |= bit } else { pending[vector / 64] &= ~bit }
    }

    /// Whether `vector` may send now rather than become pending.
    func canSend(_ vector: Int) -> Bool { isEnabled && !isFunctionMasked && !entries[vector].isMasked }

    /// Clears and returns the messages of pending vectors that may now be
    /// sent (after an unmask or enable).
    mutating func takeDeliverable(deviceID: UInt32?) -> [MSIMessage] {
        guard isEnabled && !isFunctionMasked, pending.contains(where: { $0 != 0 }) else { return [] }
        var messages: [MSIMessage] = []
        for vector in entries.indices where isPending(vector) && canSend(vector) {
            setPending(vector, false)
            messages.append(entries[vector].message(deviceID: deviceID))
        }
        return messages
    }
}
