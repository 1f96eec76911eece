import CKVM
import Glibc
import LKVMCore
import Logging
import Synchronization

/// MSIs through irqfds: each distinct message the guest programs gets a GSI
/// routed to it (KVM_SET_GSI_ROUTING) and an eventfd bound to that GSI
/// (KVM_IRQFD), so sending it is one eventfd write that KVM turns into the
/// interrupt. A message seen for the first time pays for the route once;
/// past `maxRoutes` messages, or if the host's KVM refuses irqfds, messages
/// go through KVM_SIGNAL_MSI as before (a warning says so once).
public final class KVMIrqfdMSIController: MSIController {
    private struct Route {
        let message: MSIMessage
        let gsi: UInt32
        let event: HostEventFD
    }

    private struct State {
        var routes: [Route] = []
        var disabled = false
    }

    /// KVM allows 4096 routes; a guest reprogramming vectors endlessly must
    /// not use them all up.
    public static let maxRoutes = 512
    private let machine: KVMMachine
    private let legacyGSIs: UInt32
    private let state = Mutex(State())
    private let logger = Logger(label: "lkvm.kvm")

    /// - Parameter legacyGSIs: GSIs below this keep KVM's default routing
    ///   (the x86 PIC/IOAPIC pins: 24); MSI routes are numbered after them.
    public init(machine: KVMMachine, legacyGSIs: Int) {
        self.machine = machine
        self.legacyGSIs = UInt32(legacyGSIs)
    }

    /// Routes in use (for tests and `lkvm stat`).
    public var routeCount: Int { state.withLock { $0.routes.count } }

    public func signalMSI(_ message: MSIMessage) {
        if let event = eventFor(message) {
            event.signal()
        } else {
            machine.signalMSI(message)
        }
    }

    /// The route's eventfd, made on first use; nil to fall back.
    private func eventFor(_ message: MSIMessage) -> HostEventFD? {
        state.withLock { state in
            if let route = state.routes.first(where: { $0.message == message }) { return route.event }
            guard !state.disabled, state.routes.count < Self.maxRoutes else { return nil }
            do {
                let route = Route(message: message, gsi: legacyGSIs + UInt32(state.routes.count),
                                  event: try HostEventFD())
                try install(state.routes + [route])
                try bind(route)
                state.routes.append(route)
                return route.event
            } catch {
                state.disabled = true
                logger.warning("MSIs go through KVM_SIGNAL_MSI: no irqfd route (\(error))")
                try? install(state.routes)
                return nil
            }
        }
    }

    private func install(_ routes: [Route]) throws(HypervisorError) {
        let gsis = routes.map(\.gsi)
        let addresses = routes.map(\.message.address)
        let data = routes.map(\.message.data)
        let deviceIDs = routes.map { $0.message.deviceID ?? 0 }
        let withDeviceIDs = routes.contains { $0.message.deviceID != nil }
        let result = deviceIDs.withUnsafeBufferPointer { ids in
            ckvm_set_msi_routing(machine.fd.raw, legacyGSIs, gsis, addresses, data,
                                 withDeviceIDs ? ids.baseAddress : nil, UInt32(routes.count))
        }
        guard result >= 0 else { throw .request("KVM_SET_GSI_ROUTING", .init(rawValue: errno)) }
    }

    private func bind(_ route: Route) throws(HypervisorError) {
        var request = kvm_irqfd()
        request.fd = UInt32(bitPattern: route.event.fd)
        request.gsi = route.gsi
        _ = try machine.fd.call("KVM_IRQFD", ckvm_IRQFD(), &request)
    }
}
