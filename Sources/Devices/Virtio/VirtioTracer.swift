/// Where one device's virtqueue trace goes: a line per event, each prefixed
/// with the device's label (`virtio-mmio0 (blk): q0 used head 3 len 4097`).
///
/// A transport given a tracer reports status changes, negotiated features,
/// queue setup, notifications, errors and interrupts; its queues report each
/// chain taken and each used entry; devices may add a note per request with
/// `DescriptorChain.traceNote(_:)`. Without a tracer nothing is formatted:
/// every hook is a nil check.
///
/// The sink is called from vCPU and device threads, with the transport's or
/// device's lock held: it must be quick and must not call back into virtio.
public final class VirtioTracer: Sendable {
    /// Who the lines are about, e.g. `virtio-mmio0 (blk)`.
    public let label: String
    private let sink: @Sendable (String) -> Void

    public init(label: String, sink: @escaping @Sendable (String) -> Void) {
        self.label = label
        self.sink = sink
    }

    /// Labels the device by its transport's name and its catalog name
    /// (`virtio-mmio0 (blk)`), or its type number when the catalog has none.
    public convenience init(transportName: String, device: any VirtioDevice,
                            sink: @escaping @Sendable (String) -> Void) {
        let kind = VirtioTraceSelection.catalogName(of: device) ?? "type \(device.deviceType.rawValue)"
        self.init(label: "\(transportName) (\(kind))", sink: sink)
    }

    /// Sends one line: the label, a colon, the event.
    public func emit(_ event: String) {
        sink("\(label): \(event)")
    }
}

/// The trace context a `VirtQueue` carries when its device is traced: the
/// tracer and the queue's index, which starts every line (`q0 ...`).
struct VirtQueueTrace: Sendable {
    let tracer: VirtioTracer
    let queueIndex: Int

    func emit(_ event: String) {
        tracer.emit("q\(queueIndex) \(event)")
    }

    /// `q0 head 3: [R 16 @0x10000] [W 4096 @0x11000] [W 1 @0x12000]`
    func chainTaken(head: UInt16, layout: [VirtioTraceDescriptor]) {
        emit("head \(head): \(VirtioTraceFormat.layout(layout))")
    }

    /// `q0 head 3 rejected: [R 16 @0x10000] ...`: what was walked before the
    /// error; the transport's DEVICE_NEEDS_RESET line says why.
    func chainRejected(head: UInt16, layout: [VirtioTraceDescriptor]) {
        emit("head \(head) rejected: \(VirtioTraceFormat.layout(layout))")
    }

    /// `q0 used head 3 len 4097`
    func used(head: UInt16, length: UInt32) {
        emit("used head \(head) len \(length)")
    }

    /// `q0 note head 3: IN sector 2048 x8 -> OK`
    func note(head: UInt16, _ text: String) {
        emit("note head \(head): \(text)")
    }
}

/// One descriptor of a chain as the driver laid it out, for the trace.
/// Zero-length buffers are included: the trace shows what the driver wrote.
enum VirtioTraceDescriptor: Equatable, Sendable {
    case buffer(address: UInt64, length: UInt32, writable: Bool)
    /// A descriptor pointing at an indirect table of `entries` descriptors;
    /// the chain continues inside that table.
    case indirect(address: UInt64, entries: UInt32)
}
