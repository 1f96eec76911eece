import CKVM
import XCTest
@testable import ArchARM64
import LKVMCore

/// The arm64 KVM API numbers lkvm defines itself (the x86 host's headers lack
/// them), against the values of arch/arm64/include/uapi/asm/kvm.h and
/// include/uapi/linux/kvm.h worked out by hand.
final class ARM64KVMConstantsTests: XCTestCase {
    /// _IOW/_IOR(KVMIO = 0xAE, nr, 32-byte struct kvm_vcpu_init): dir << 30 | size << 16 | 0xAE << 8 | nr.
    func testVCPUInitRequestsAndStructLayout() {
        XCTAssertEqual(MemoryLayout<ckvm_vcpu_init>.size, 32, "__u32 target; __u32 features[7]")
        XCTAssertEqual(ckvm_ARM_VCPU_INIT(), 0x4020_AEAE)
        XCTAssertEqual(ckvm_ARM_PREFERRED_TARGET(), 0x8020_AEAF)
        XCTAssertEqual(ckvm_CREATE_DEVICE(), 0xC00C_AEE0, "_IOWR(KVMIO, 0xe0, 12-byte kvm_create_device)")
        XCTAssertEqual(ckvm_SET_DEVICE_ATTR(), 0x4018_AEE1, "_IOW(KVMIO, 0xe1, 24-byte kvm_device_attr)")
        XCTAssertEqual(ckvm_SET_ONE_REG(), 0x4010_AEAC, "_IOW(KVMIO, 0xac, 16-byte kvm_one_reg)")
        XCTAssertEqual(ckvm_GET_ONE_REG(), 0x4010_AEAB)
    }

    func testFeatureBitsAndVGICAttributes() {
        XCTAssertEqual(CKVM_ARM_VCPU_POWER_OFF, 0)
        XCTAssertEqual(CKVM_ARM_VCPU_PSCI_0_2, 2)
        XCTAssertEqual(ckvm_DEV_TYPE_ARM_VGIC_V3(), 7)
        XCTAssertEqual(ckvm_DEV_TYPE_ARM_VGIC_ITS(), 8)
        XCTAssertEqual(CKVM_DEV_ARM_VGIC_GRP_ADDR, 0)
        XCTAssertEqual(CKVM_DEV_ARM_VGIC_GRP_NR_IRQS, 3)
        XCTAssertEqual(CKVM_DEV_ARM_VGIC_GRP_CTRL, 4)
        XCTAssertEqual(CKVM_DEV_ARM_VGIC_CTRL_INIT, 0)
        XCTAssertEqual(CKVM_VGIC_V3_ADDR_TYPE_DIST, 2)
        XCTAssertEqual(CKVM_VGIC_V3_ADDR_TYPE_REDIST, 3)
        XCTAssertEqual(CKVM_VGIC_ITS_ADDR_TYPE, 4)
        XCTAssertEqual(KVM_CAP_ARM_VM_IPA_SIZE, 165)
        XCTAssertEqual(KVM_CAP_ARM_NISV_TO_USER, 177)
        XCTAssertEqual(KVM_EXIT_ARM_NISV, 28)
        XCTAssertEqual(KVM_EXIT_SYSTEM_EVENT, 24)
    }

    /// KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE | offsetof(struct kvm_regs, ...) / 4.
    func testCoreRegisterIDs() {
        XCTAssertEqual(ARM64CoreRegister.x(0).id, 0x6030_0000_0010_0000)
        XCTAssertEqual(ARM64CoreRegister.x(1).id, 0x6030_0000_0010_0002)
        XCTAssertEqual(ARM64CoreRegister.x(30).id, 0x6030_0000_0010_003C)
        XCTAssertEqual(ARM64CoreRegister.sp.id, 0x6030_0000_0010_003E)
        XCTAssertEqual(ARM64CoreRegister.pc.id, 0x6030_0000_0010_0040)
        XCTAssertEqual(ARM64CoreRegister.pstate.id, 0x6030_0000_0010_0042)
        XCTAssertEqual(ARM64CoreRegister.spEL1.id, 0x6030_0000_0010_0044)
        XCTAssertEqual(ARM64CoreRegister.elrEL1.id, 0x6030_0000_0010_0046)
        // ARM64_SYS_REG(3, 0, 5, 2, 0) and (3, 0, 6, 0, 0).
        XCTAssertEqual(ARM64CoreRegister.esrEL1.id, 0x6030_0000_0013_C290)
        XCTAssertEqual(ARM64CoreRegister.farEL1.id, 0x6030_0000_0013_C300)
        XCTAssertEqual(ARM64CoreRegister.bootPSTATE, 0x3C5, "EL1h (5) | F | I | A | D")
    }

    /// KVM_IRQ_LINE: KVM_ARM_IRQ_TYPE_SPI (1) << 24 | INTID, INTID = 32 + SPI.
    func testSPILineEncoding() {
        XCTAssertEqual(ARM64InterruptNumber.spi(0), 0x0100_0020)
        XCTAssertEqual(ARM64InterruptNumber.spi(1), 0x0100_0021)
        XCTAssertEqual(ARM64InterruptNumber.spi(95), 0x0100_007F)
    }

    func testIPASizeOfTheShippedBoardsAndARefusal() throws {
        let virt = try ARM64Fixtures.plan(board: "virt")
        let virtIPA = ARM64IPASize(board: virt.config.board, ram: virt.ram)
        XCTAssertEqual(virtIPA.bits, 40, "64-bit BARs end at 1 TiB")
        XCTAssertEqual(virtIPA.machineType, 0)
        XCTAssertNoThrow(try virtIPA.check(hostLimit: 0, board: virt.config.board))
        let kvmtool = try ARM64Fixtures.plan(board: "kvmtool-arm64")
        XCTAssertEqual(ARM64IPASize(board: kvmtool.config.board, ram: kvmtool.ram).bits, 32)

        let farRAM = [try XCTUnwrap(GuestRange(start: GuestAddress(1 << 43), size: 0x1000_0000))]
        let big = ARM64IPASize(board: virt.config.board, ram: farRAM)
        XCTAssertEqual(big.bits, 44)
        XCTAssertEqual(big.machineType, 44)
        XCTAssertNoThrow(try big.check(hostLimit: 48, board: virt.config.board))
        let error = thrownError(ARM64MachineError.self) { try big.check(hostLimit: 40, board: virt.config.board) }
        XCTAssertEqual(error?.description,
                       "\(virt.config.board.fileName): the guest's address space needs a 44-bit IPA, "
                           + "but this host's KVM supports at most 40 bits (KVM_CAP_ARM_VM_IPA_SIZE)")
    }
}
