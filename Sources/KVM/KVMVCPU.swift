import CKVM
import Glibc
import LKVMCore
import Synchronization
import SystemPackage

/// One KVM vCPU and its shared `kvm_run` page.
public final class KVMVCPU: VirtualCPU, @unchecked Sendable {
    // @unchecked: `run` is used only by the owning vCPU thread; the fields
    // other threads touch (immediate_exit, thread) are atomic or locked.
    public let id: Int
    public let fd: KVMFileDescriptor
    private let run: UnsafeMutablePointer<kvm_run>
    private let mapSize: Int
    private let hooks: KVMArchHooks
    /// The thread inside `run(buses:)`, to signal it out of KVM_RUN.
    private let runningThread = Mutex<pthread_t?>(nil)

    init(id: Int, fd: KVMFileDescriptor, mapSize: Int,
         hooks: KVMArchHooks) throws(HypervisorError) {
        // SAFETY: KVM maps the vCPU's kvm_run structure at offset 0 of its fd;
        // mapSize comes from KVM_GET_VCPU_MMAP_SIZE; unmapped only in deinit.
        let pointer = mmap(nil, mapSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd.raw, 0)
        guard let pointer, pointer != MAP_FAILED else {
            let error = Errno(rawValue: errno)
            fd.close()
            throw .request("mmap(kvm_run)", error)
        }
        self.id = id
        self.fd = fd
        self.mapSize = mapSize
        self.run = pointer.assumingMemoryBound(to: kvm_run.self)
        self.hooks = hooks
        KickSignal.install()
    }

    deinit {
        munmap(run, mapSize)
        fd.close()
    }

    public func registerDump() -> String { hooks.registerDump(self) }

    public func debugState() -> VCPUDebugState? { hooks.debugState(self) }

    public func injectNMI() throws(HypervisorError) { try hooks.injectNMI(self) }

    public func requestExit() {
        // Order matters: set immediate_exit first so a vCPU that is about to
        // enter KVM_RUN returns at once; the signal handles one already inside.
        ckvm_run_set_immediate_exit(run, 1)
        runningThread.withLock { thread in
            if let thread { pthread_kill(thread, KickSignal.number) }
        }
    }

    public func clearExitRequest() {
        ckvm_run_set_immediate_exit(run, 0)
    }

    public func run(buses: IOBuses) throws(HypervisorError) -> VCPUExit {
        runningThread.withLock { $0 = pthread_self() }
        defer { runningThread.withLock { $0 = nil } }
        while true {
            if ckvm_ioctl_val(fd.raw, ckvm_RUN(), 0) < 0 {
                let error = errno
                if error == EINTR || error == EAGAIN { return .interrupted }
                throw .request("KVM_RUN", Errno(rawValue: error))
            }
            switch Int32(ckvm_run_exit_reason(run)) {
            case KVM_EXIT_IO: dispatchPortIO(buses.pio)
            case KVM_EXIT_MMIO: dispatchMMIO(buses.mmio)
            case KVM_EXIT_HLT: return .halt
            case KVM_EXIT_SHUTDOWN: return .shutdown
            case KVM_EXIT_INTR: return .interrupted
            case KVM_EXIT_FAIL_ENTRY:
                return .failEntry(reason: ckvm_run_fail_entry_reason(run), cpu: ckvm_run_fail_entry_cpu(run))
            case KVM_EXIT_INTERNAL_ERROR:
                let count = ckvm_run_internal_ndata(run)
                let data = (0..<count).map { ckvm_run_internal_data(run, $0) }
                return .internalError(suberror: ckvm_run_internal_suberror(run), data: data)
            case KVM_EXIT_SYSTEM_EVENT:
                return .systemEvent(Self.systemEvent(ckvm_run_system_event_type(run)))
            case KVM_EXIT_ARM_NISV:
                return .undecodableMMIO(address: ckvm_run_arm_nisv_fault_ipa(run),
                                        syndrome: ckvm_run_arm_nisv_esr_iss(run))
            case let reason:
                return .unknown(reason: UInt32(bitPattern: reason))
            }
        }
    }

    private static func systemEvent(_ type: UInt32) -> SystemEvent {
        switch Int32(type) {
        case KVM_SYSTEM_EVENT_SHUTDOWN: .powerOff
        case KVM_SYSTEM_EVENT_RESET: .reset
        case KVM_SYSTEM_EVENT_CRASH: .crash
        default: .other(type)
        }
    }

    /// Port I/O: `count` elements of `size` bytes at data_offset in kvm_run
    /// (count > 1 for string instructions such as `rep outsb`).
    private func dispatchPortIO(_ bus: Bus) {
        let size = Int(ckvm_run_io_size(run))
        let count = Int(ckvm_run_io_count(run))
        let port = UInt64(ckvm_run_io_port(run))
        let offset = Int(ckvm_run_io_data_offset(run))
        guard size == 1 || size == 2 || size == 4, offset >= MemoryLayout<kvm_run>.size,
              offset + size * count <= mapSize else { return }
        // SAFETY: KVM places count*size bytes of data inside the kvm_run
        // mapping at data_offset; the guard above checks they fit the mapping.
        let data = UnsafeMutableRawPointer(run) + offset
        let isWrite = ckvm_run_io_direction(run) == UInt8(KVM_EXIT_IO_OUT)
        for index in 0..<count {
            let element = data + index * size
            if isWrite {
                bus.write(port, size: size, value: Self.loadLittleEndian(element, size: size))
            } else {
                Self.storeLittleEndian(bus.read(port, size: size), element, size: size)
            }
        }
    }

    private func dispatchMMIO(_ bus: Bus) {
        let length = Int(ckvm_run_mmio_length(run))
        guard length >= 1, length <= 8 else { return }
        let address = ckvm_run_mmio_address(run)
        if ckvm_run_mmio_is_write(run) != 0 {
            bus.write(address, size: length, value: ckvm_run_mmio_data(run))
        } else {
            ckvm_run_set_mmio_data(run, bus.read(address, size: length))
        }
    }

    private static func loadLittleEndian(_ pointer: UnsafeMutableRawPointer, size: Int) -> UInt64 {
        switch size {
        case 1: UInt64(pointer.load(as: UInt8.self))
        case 2: UInt64(UInt16(littleEndian: pointer.loadUnaligned(as: UInt16.self)))
        default: UInt64(UInt32(littleEndian: pointer.loadUnaligned(as: UInt32.self)))
        }
    }

    private static func storeLittleEndian(_ value: UInt64, _ pointer: UnsafeMutableRawPointer, size: Int) {
        switch size {
        case 1: pointer.storeBytes(of: UInt8(truncatingIfNeeded: value), as: UInt8.self)
        case 2: pointer.storeBytes(of: UInt16(truncatingIfNeeded: value).littleEndian, as: UInt16.self)
        default: pointer.storeBytes(of: UInt32(truncatingIfNeeded: value).littleEndian, as: UInt32.self)
        }
    }
}

/// The signal that kicks a vCPU thread out of KVM_RUN. Its handler does
/// nothing: the point is the EINTR it causes.
enum KickSignal {
    static let number = SIGUSR1
    private static let installed: Void = {
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { _ in }
        sigemptyset(&action.sa_mask)
        action.sa_flags = 0  // no SA_RESTART: KVM_RUN must return EINTR
        sigaction(number, &action, nil)
    }()

    static func install() { _ = installed }
}
