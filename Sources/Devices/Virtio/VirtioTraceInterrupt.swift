/// What a traced device gets instead of the transport's interrupt: the same
/// calls, each forwarded after a trace line. Like every `VirtioInterrupt` it
/// is a leaf: it never calls the device.
struct VirtioTraceInterrupt: VirtioInterrupt {
    let inner: any VirtioInterrupt
    let tracer: VirtioTracer

    func signalUsedBuffer(queue: Int) {
        tracer.emit("q\(queue) interrupt")
        inner.signalUsedBuffer(queue: queue)
    }

    func signalConfigChange() {
        tracer.emit("config interrupt")
        inner.signalConfigChange()
    }

    func signalDeviceNeedsReset(_ error: VirtQueueError) {
        tracer.emit("DEVICE_NEEDS_RESET: \(error)")
        inner.signalDeviceNeedsReset(error)
    }
}
