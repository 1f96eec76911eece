/// Rules that relate one part of a board to another. They run on every parse,
/// before anything is built, so a bad board never half-builds a VM.
extension Board {
    /// Checks a run's RAM size and vCPU count against this board.
    public func validate(ramMiB: Int, cpus requested: Int) throws(BoardError) {
        guard requested >= 1 else { throw error("cpus", "\(requested) vCPUs requested; at least 1 is needed") }
        guard requested <= cpus.maxCount else {
            throw error("cpus.max", "\(requested) vCPUs requested, but board '\(name)' supports at most \(cpus.maxCount)")
        }
        guard ramMiB > 0 else { throw error("ram", "\(ramMiB) MiB of RAM requested; it must be positive") }
        if let minimum = ram.minimumMiB, ramMiB < minimum {
            throw error("ram.minimum_mib", "\(ramMiB) MiB of RAM requested, below the minimum of \(minimum) MiB for board '\(name)'")
        }
        for ramRange in try ram.ranges(forMiB: ramMiB) {
            for region in mmioRegions where region.range.overlaps(ramRange) {
                throw error(region.name, "\(region.range) lies inside RAM \(ramRange) when the guest has \(ramMiB) MiB; "
                    + "move it into a ram.holes entry or above RAM")
            }
        }
        if architecture == .arm64 { try validateIPA(ramMiB: ramMiB) }
    }

    func validateLayout() throws(BoardError) {
        try checkArchitecture()
        try checkSingletons()
        try checkOverlaps()
        try checkIRQs()
        try checkTransport()
        try checkCPULimit()
        if let minimum = ram.minimumMiB { try validate(ramMiB: minimum, cpus: cpus.defaultCount) }
        try validate(ramMiB: ram.defaultMiB, cpus: cpus.defaultCount)
    }

    private func error(_ keyPath: String?, _ message: String) -> BoardError {
        BoardError(file: fileName, keyPath: keyPath, message: message)
    }

    private func checkArchitecture() throws(BoardError) {
        let controller = interruptController
        guard controller.architecture == architecture else {
            throw error("interrupt_controller.kind",
                        "\(controller.kind) is an \(controller.architecture) interrupt controller, "
                            + "but the board is \(architecture)")
        }
        for (index, device) in devices.enumerated() {
            let deviceArchitecture: Architecture?
            switch device {
            case .i8042, .cmosRTC: deviceArchitecture = .x86_64
            case .pl011, .pl031: deviceArchitecture = .arm64
            case .uart8250: deviceArchitecture = device.portRanges.isEmpty ? nil : .x86_64
            }
            if let deviceArchitecture, deviceArchitecture != architecture {
                let reason = device.portRanges.isEmpty
                    ? "is an \(deviceArchitecture) device" : "uses I/O ports, which only x86_64 has"
                throw error("devices[\(index)].kind", "\(device.kind) \(reason), but the board is \(architecture)")
            }
        }
        if pci?.ioPorts != nil, architecture != .x86_64 {
            throw error("pci.io_ports", "I/O port windows exist only on x86_64, but the board is \(architecture)")
        }
    }

    private func checkSingletons() throws(BoardError) {
        var firstIndex: [String: Int] = [:]
        for (index, device) in devices.enumerated() where DeviceSpec.singletonKinds.contains(device.kind) {
            if let earlier = firstIndex[device.kind] {
                throw error("devices[\(index)].kind", "a board has at most one \(device.kind); devices[\(earlier)] is one already")
            }
            firstIndex[device.kind] = index
        }
    }

    private func checkOverlaps() throws(BoardError) {
        let regions = mmioRegions
        for (later, region) in regions.enumerated() {
            for earlier in regions[..<later] where earlier.range.overlaps(region.range) {
                throw error(region.name, "\(region.range) overlaps \(earlier.name) \(earlier.range)")
            }
        }
        let ports = portRegions
        for (later, region) in ports.enumerated() {
            for earlier in ports[..<later] where earlier.range.overlaps(region.range) {
                throw error(region.name, "\(region.range) overlaps \(earlier.name) \(earlier.range)")
            }
        }
    }

    /// Each IRQ within the controller's lines, not reserved, not shared.
    private func checkIRQs() throws(BoardError) {
        let lines = interruptController.lineCount
        let reserved = interruptController.reservedIRQs
        var owner: [Int: String] = [:]
        for assignment in irqAssignments {
            let irq = assignment.irq
            guard irq >= 0, irq < lines else {
                throw error(assignment.keyPath,
                            "\(irq)\(assignment.label) is out of range 0..<\(lines) "
                                + "for the \(interruptController.kind) interrupt controller")
            }
            if let use = reserved[irq] {
                throw error(assignment.keyPath, "IRQ \(irq)\(assignment.label) is taken by \(use)")
            }
            if let previous = owner[irq] {
                throw error(assignment.keyPath, "IRQ \(irq)\(assignment.label) is already used by \(previous); IRQs are not shared")
            }
            owner[irq] = assignment.keyPath + assignment.label
        }
    }

    /// Every IRQ the board hands out, with the key it came from and, for ranges, which slot.
    private var irqAssignments: [(keyPath: String, label: String, irq: Int)] {
        var assignments: [(keyPath: String, label: String, irq: Int)] = []
        for (index, device) in devices.enumerated() {
            for field in device.irqFields { assignments.append(("devices[\(index)].\(field.field)", "", field.irq)) }
        }
        if let virtioMMIO {
            for (slot, irq) in virtioMMIO.irqs.enumerated() {
                assignments.append(("virtio_mmio.first_irq", " (virtio-mmio slot \(slot))", irq))
            }
        }
        if let intx = pci?.intxIRQs {
            for (pin, irq) in intx.enumerated() { assignments.append(("pci.intx_irqs", " (INTx line \(pin))", irq)) }
        }
        return assignments
    }

    private func checkTransport() throws(BoardError) {
        switch defaultTransport {
        case .pci where pci == nil:
            throw error("default_transport", "is \"pci\", but the board has no [pci] section")
        case .mmio where virtioMMIO == nil:
            throw error("default_transport", "is \"mmio\", but the board has no [virtio_mmio] section")
        default:
            break
        }
    }

    private func checkCPULimit() throws(BoardError) {
        let limit = interruptController.maxCPUs
        guard cpus.maxCount <= limit else {
            let why: String
            switch interruptController {
            case .x86IOAPIC: why = "8-bit xAPIC IDs, one kept for the IOAPIC and 0xff for broadcast"
            case .gicv3(let spec):
                why = "\(hex(spec.redistributors.size)) of redistributors at 128 KiB per vCPU, KVM limit \(GICv3Spec.maxCPUsKVM)"
            }
            throw error("cpus.max", "\(cpus.maxCount) exceeds the \(limit) vCPUs "
                            + "the \(interruptController.kind) interrupt controller can address (\(why))")
        }
    }
}
