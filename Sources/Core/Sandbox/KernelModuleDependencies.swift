/// Resolves kernel module names to the files to load, dependencies first,
/// from a modules.dep text (depmod's: "path: dependency-path ...", paths
/// relative to /lib/modules/VERSION) and a modules.builtin text (one path a
/// line: modules compiled into the kernel, nothing to load).
public struct KernelModuleDependencies: Sendable {
    public enum ResolveError: Error, Equatable, CustomStringConvertible {
        /// Neither in modules.dep nor built in.
        case notFound(String)
        /// A dependency path named in modules.dep has no line of its own.
        case missingEntry(path: String, neededBy: String)
        case cycle([String])

        public var description: String {
            switch self {
            case .notFound(let name): "module \(name) is neither in modules.dep nor in modules.builtin"
            case .missingEntry(let path, let neededBy): "modules.dep: \(neededBy) needs \(path), which has no entry"
            case .cycle(let paths): "modules.dep: dependency cycle \(paths.joined(separator: " -> "))"
            }
        }
    }

    private var dependencies: [String: [String]] = [:]
    /// Canonical module name → its path, for lookups by name.
    private var pathsByName: [String: String] = [:]
    private var builtinNames: Set<String> = []

    public init(modulesDep: String, modulesBuiltin: String = "") {
        for line in modulesDep.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let path = String(line[..<colon]).trimmingSpaces()
            guard !path.isEmpty else { continue }
            dependencies[path] = line[line.index(after: colon)...].split(separator: " ").map(String.init)
            let name = Self.moduleName(ofPath: path)
            if pathsByName[name] == nil { pathsByName[name] = path }
        }
        for line in modulesBuiltin.split(separator: "\n") {
            let path = String(line).trimmingSpaces()
            if !path.isEmpty { builtinNames.insert(Self.moduleName(ofPath: path)) }
        }
    }

    /// "kernel/net/9p/9pnet_virtio.ko.xz" → "9pnet_virtio"; "-" and "_" are
    /// the same to the kernel, so names use "_".
    public static func moduleName(ofPath path: String) -> String {
        var base = String(path.split(separator: "/").last ?? "")
        if let range = base.firstRange(of: ".ko") { base = String(base[..<range.lowerBound]) }
        return canonical(base)
    }

    static func canonical(_ name: String) -> String {
        String(name.map { $0 == "-" ? "_" : $0 })
    }

    public func isBuiltin(_ name: String) -> Bool { builtinNames.contains(Self.canonical(name)) }
    public func hasModule(_ name: String) -> Bool { pathsByName[Self.canonical(name)] != nil }

    /// The module files for `names`, each after everything it needs, no
    /// file twice. Built-in modules contribute nothing.
    public func loadOrder(for names: [String]) throws(ResolveError) -> [String] {
        var order: [String] = []
        var done: Set<String> = []
        var visiting: [String] = []
        for name in names {
            let key = Self.canonical(name)
            guard let path = pathsByName[key] else {
                if builtinNames.contains(key) { continue }
                throw .notFound(name)
            }
            try visit(path, neededBy: path, &order, &done, &visiting)
        }
        return order
    }

    private func visit(_ path: String, neededBy: String, _ order: inout [String], _ done: inout Set<String>,
                       _ visiting: inout [String]) throws(ResolveError) {
        if done.contains(path) { return }
        if let start = visiting.firstIndex(of: path) { throw .cycle(Array(visiting[start...]) + [path]) }
        guard let needs = dependencies[path] else { throw .missingEntry(path: path, neededBy: neededBy) }
        visiting.append(path)
        for dependency in needs { try visit(dependency, neededBy: path, &order, &done, &visiting) }
        visiting.removeLast()
        done.insert(path)
        order.append(path)
    }
}

fileprivate extension String {
    func trimmingSpaces() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else {
            return ""
        }
        return String(self[first...last])
    }
}
