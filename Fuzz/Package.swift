// swift-tools-version: 6.0
import PackageDescription

// libFuzzer targets for the code that eats guest- and user-controlled bytes
// (docs/fuzzing.md). Sources/<module> are symlinks to the main package's
// sources: the main package has no library products, and SwiftPM refuses
// target paths outside a package. Build with `make fuzz-build` (the flags
// -sanitize=fuzzer,address and -parse-as-library come from there).
let lkvmModules: [Target.Dependency] = ["LKVMCore", "LKVMDevices", "ArchX86", "ArchARM64"]

let fuzzTargets = [
    "FuzzVirtQueue", "FuzzVirtioBlock", "FuzzVirtioNet", "FuzzVirtioConsole", "FuzzVirtioRNG",
    "FuzzNineP", "FuzzVirtioNineP", "FuzzBzImage", "FuzzARM64Image", "FuzzBoard", "FuzzBoardFDT",
    "FuzzControlRequest", "FuzzVirtioVsock", "FuzzVirtioBalloon",
]

let package = Package(
    name: "lkvm-fuzz",
    products: fuzzTargets.map { .executable(name: $0, targets: [$0]) },
    dependencies: [
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        .target(name: "CKVM", path: "Sources/CKVM"),
        .target(name: "CGuardedCopy", path: "Sources/CGuardedCopy"),
        .systemLibrary(name: "CSlirp", path: "Sources/CSlirp"),
        .systemLibrary(name: "CFDT", path: "Sources/CFDT"),
        .systemLibrary(name: "CElf", path: "Sources/CElf"),
        .target(
            name: "LKVMCore",
            dependencies: [
                "CElf",
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/LKVMCore"),
        .target(
            name: "LKVMKVM",
            dependencies: ["LKVMCore", "CKVM",
                           .product(name: "SystemPackage", package: "swift-system"),
                           .product(name: "Logging", package: "swift-log")],
            path: "Sources/LKVMKVM"),
        .target(
            name: "LKVMDevices",
            dependencies: ["LKVMCore", "CSlirp", "CGuardedCopy", .product(name: "Logging", package: "swift-log")],
            path: "Sources/LKVMDevices"),
        .target(
            name: "ArchX86",
            dependencies: ["LKVMCore", "LKVMKVM", "LKVMDevices", "CKVM",
                           .product(name: "SystemPackage", package: "swift-system"),
                           .product(name: "Logging", package: "swift-log")],
            path: "Sources/ArchX86"),
        .target(
            name: "ArchARM64",
            dependencies: ["LKVMCore", "LKVMKVM", "LKVMDevices", "CKVM", "CFDT"],
            path: "Sources/ArchARM64"),
        .target(name: "CFuzzMain", path: "Targets/CFuzzMain"),
        .target(name: "FuzzSupport", dependencies: ["LKVMCore", "LKVMDevices", "CFuzzMain",
                                                .product(name: "Logging", package: "swift-log")],
                path: "Targets/FuzzSupport"),
    ] + fuzzTargets.map {
        .executableTarget(name: $0, dependencies: lkvmModules + ["FuzzSupport"], path: "Targets/\($0)")
    }
)
