/// How much virtio-vsock holds, per stream and in all.
public struct VsockLimits: Sendable {
    /// Streams (and host clients still writing their CONNECT line) at once.
    public var maxConnections = 64
    /// buf_alloc we advertise per stream: the most guest bytes held for it.
    public var bufferAllocation: UInt32 = 128 * 1024
    /// The most bytes read from a host socket at a time (still within the guest's credit).
    public var readChunk = 16 * 1024
    /// RSTs answering packets with no stream, waiting at once; more are
    /// dropped. RSTs of streams lkvm ends may add `maxConnections` more.
    public var maxQueuedResets = 64
    /// A host client's CONNECT the guest has not answered (RESPONSE or RST)
    /// in this long is reset: a silent guest cannot hold the client, and a
    /// stream slot, forever.
    public var responseTimeoutSeconds: Double = 10

    public init() {}
}

/// Packets and streams refused or dropped, by reason.
public struct VsockCounters: Equatable, Sendable {
    /// Shorter than a header, or a length beyond the chain or 64 KiB.
    public var malformed = 0
    /// Host CONNECTs the guest left unanswered past `responseTimeoutSeconds`.
    public var unansweredRequests = 0
    /// From a source CID that is not the guest's: dropped unanswered.
    public var wrongSource = 0
    /// Answered with RST: wrong destination, SEQPACKET, unknown op, no stream.
    public var refusedPackets = 0
    /// Guest connections to the host that found no listener (or the limit).
    public var refusedConnections = 0
    /// Streams reset because the guest sent beyond the credit we gave.
    public var creditOverruns = 0
    /// RSTs not sent because too many waited.
    public var droppedResets = 0

    public init() {}
}
