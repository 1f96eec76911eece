/// The trace lines a transport emits about what the driver programmed. Called only when a tracer is set.
extension VirtioTracer {
    /// `q0 ready size 8 desc 0x1000 avail 0x1080 used 0x109c`, as the
    /// driver left the queue registers when it set QueueReady.
    func queueReady(_ state: VirtioTransportState) {
        guard let index = state.selectedQueue else {
            emit("q\(state.queueSelect) ready ignored: no such queue")
            return
        }
        guard !state.activated else {
            emit("q\(index) ready ignored: the device is running")
            return
        }
        let queue = state.queues[index]
        emit("q\(index) ready size \(queue.size) desc \(VirtioTraceFormat.hex(queue.descriptorTable))"
            + " avail \(VirtioTraceFormat.hex(queue.availableRing)) used \(VirtioTraceFormat.hex(queue.usedRing))")
    }

    /// `features 0x100000000 VERSION_1 (not taken: INDIRECT_DESC|EVENT_IDX)`
    /// when FEATURES_OK sticks; `features ... refused: ...` when it does not.
    func features(_ state: VirtioTransportState, offered: UInt64, type: VirtioDeviceType, accepted: Bool) {
        let taken = VirtioTraceFormat.features(state.driverFeatures, type: type)
        guard accepted else {
            let unoffered = state.driverFeatures & ~offered
            let reason = state.driverWroteHighFeatureWord ? "a feature bit above 63"
                : unoffered != 0 ? "not offered: \(VirtioTraceFormat.featureNames(unoffered, type: type))"
                : "no VERSION_1"
            emit("features \(taken) refused (\(reason)); FEATURES_OK stays clear")
            return
        }
        let declined = offered & ~state.driverFeatures
        let suffix = declined == 0 ? "" : " (not taken: \(VirtioTraceFormat.featureNames(declined, type: type)))"
        emit("features \(taken)\(suffix)")
    }

    /// `status ACKNOWLEDGE (0x1) ignored: clears bits of ACKNOWLEDGE|DRIVER (0x3)`
    func statusIgnored(_ value: UInt32, current: UInt32) {
        emit("status \(VirtioTraceFormat.status(value)) ignored: clears bits of \(VirtioTraceFormat.status(current))")
    }

    /// `q3 notify ignored: no such queue`, and the other reasons.
    func ignoredNotification(queue index: Int, _ state: VirtioTransportState, queueCount: Int, needsReset: Bool) {
        let reason = !state.activated ? "before DRIVER_OK" : needsReset ? "the device needs a reset"
            : index >= queueCount ? "no such queue" : "unknown"
        emit("q\(index) notify ignored: \(reason)")
    }
}
