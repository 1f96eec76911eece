/// Finds, reads and parses board files.
public enum BoardCatalog {
    /// The board used when the user names none.
    public static func defaultBoardName(for architecture: Architecture) -> String {
        switch architecture {
        case .x86_64: "pc"
        case .arm64: "virt"
        }
    }

    /// Parses board text; `fileName` only labels errors.
    public static func parse(text: String, fileName: String) throws(BoardError) -> Board {
        try BoardParser.parse(text: text, fileName: fileName)
    }

    /// Reads and parses the board file at `path`.
    public static func load(path: String) throws(BoardError) -> Board {
        try parse(text: try BoardFileSystem.readText(path: path), fileName: path)
    }

    /// A value with "/" or ending in ".toml" is a path; anything else is a board
    /// name looked up as `NAME.toml` in `searchDirectories`, first match wins.
    /// The board must be for `architecture`: KVM cannot run another one.
    public static func resolve(nameOrPath: String, architecture: Architecture,
                               searchDirectories: [String]) throws(BoardError) -> Board {
        let board: Board
        if nameOrPath.contains("/") || nameOrPath.hasSuffix(".toml") {
            board = try load(path: nameOrPath)
        } else {
            guard !nameOrPath.isEmpty else { throw BoardError(file: "<board>", message: "the board name is empty") }
            let candidates = searchDirectories.lazy.map { "\($0)/\(nameOrPath).toml" }
            guard let path = candidates.first(where: BoardFileSystem.isRegularFile) else {
                throw unknownBoard(nameOrPath, searchDirectories: searchDirectories)
            }
            board = try load(path: path)
        }
        guard board.architecture == architecture else {
            throw BoardError(file: board.fileName, keyPath: "architecture",
                             message: "board '\(board.name)' is for \(board.architecture), "
                                 + "but this lkvm runs \(architecture) guests")
        }
        return board
    }

    /// Names of the boards (`*.toml`) in `directories`, sorted, without duplicates.
    public static func availableBoards(in directories: [String]) -> [String] {
        var names: Set<String> = []
        for directory in directories {
            for entry in BoardFileSystem.entries(of: directory) where entry.hasSuffix(".toml") && entry.count > 5 {
                names.insert(String(entry.dropLast(5)))
            }
        }
        return names.sorted()
    }

    /// Where board names are looked up: `$LKVM_BOARDS_DIR` (colon-separated) if
    /// set, then `Boards/` beside the executable, then the nearest ancestor of the
    /// executable's directory holding `Boards/pc.toml`, so `.build/debug/lkvm`
    /// finds the checkout's boards. The caller passes `readlink /proc/self/exe`.
    public static func searchDirectories(executablePath: String) -> [String] {
        searchDirectories(executablePath: executablePath, environmentValue: BoardFileSystem.environment("LKVM_BOARDS_DIR"))
    }

    /// `searchDirectories(executablePath:)` with `$LKVM_BOARDS_DIR` passed in (tests).
    public static func searchDirectories(executablePath: String, environmentValue: String?) -> [String] {
        var directories: [String] = []
        func add(_ directory: String) {
            if !directories.contains(directory) { directories.append(directory) }
        }
        if let environmentValue {
            for directory in environmentValue.split(separator: ":") { add(String(directory)) }
        }
        var directory = parentDirectory(of: executablePath)
        if BoardFileSystem.isDirectory(directory + "/Boards") { add(directory + "/Boards") }
        while true {
            if BoardFileSystem.isRegularFile(directory + "/Boards/pc.toml") {
                add(directory + "/Boards")
                break
            }
            let parent = parentDirectory(of: directory)
            if parent == directory { break }
            directory = parent
        }
        return directories
    }

    /// "/a/b/c" → "/a/b"; "/a" → "/"; "c" → ".".
    static func parentDirectory(of path: String) -> String {
        var trimmed = Substring(path)
        while trimmed.count > 1, trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        guard let slash = trimmed.lastIndex(of: "/") else { return "." }
        if slash == trimmed.startIndex { return "/" }
        return String(trimmed[..<slash])
    }

    private static func unknownBoard(_ name: String, searchDirectories: [String]) -> BoardError {
        guard !searchDirectories.isEmpty else {
            return BoardError(file: "\(name).toml", message: "no board directory to look in (set LKVM_BOARDS_DIR or pass a path)")
        }
        let available = availableBoards(in: searchDirectories)
        let list = available.isEmpty ? "none" : available.joined(separator: ", ")
        return BoardError(file: "\(name).toml",
                          message: "no such board in \(searchDirectories.joined(separator: ", ")) (available boards: \(list))")
    }
}
