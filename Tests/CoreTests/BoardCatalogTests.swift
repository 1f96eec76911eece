import Foundation
import XCTest
@testable import LKVMCore

final class BoardCatalogTests: XCTestCase {
    private var directory = ""

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "lkvm-board-tests-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory + "/Boards", withIntermediateDirectories: true)
        try validX86Board.write(toFile: directory + "/Boards/tiny.toml", atomically: true, encoding: .utf8)
        try validARM64Board.write(toFile: directory + "/Boards/tinyarm.toml", atomically: true, encoding: .utf8)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    func testDefaultBoardNames() {
        XCTAssertEqual(BoardCatalog.defaultBoardName(for: .x86_64), "pc")
        XCTAssertEqual(BoardCatalog.defaultBoardName(for: .arm64), "virt")
    }

    func testResolvesNameInSearchDirectories() throws {
        let board = try BoardCatalog.resolve(nameOrPath: "tiny", architecture: .x86_64,
                                             searchDirectories: ["/nonexistent", directory + "/Boards"])
        XCTAssertEqual(board.name, "tiny")
        XCTAssertEqual(board.fileName, directory + "/Boards/tiny.toml")
    }

    func testResolvesPaths() throws {
        let board = try BoardCatalog.resolve(nameOrPath: directory + "/Boards/tinyarm.toml", architecture: .arm64,
                                             searchDirectories: [])
        XCTAssertEqual(board.name, "tinyarm")
    }

    func testUnknownNameListsAvailableBoards() {
        XCTAssertThrowsError(try BoardCatalog.resolve(nameOrPath: "q35", architecture: .x86_64,
                                                      searchDirectories: [directory + "/Boards"])) { error in
            assertOneLine(error as! BoardError, file: "q35.toml", keyPath: nil,
                          ["no such board in \(self.directory)/Boards", "available boards: tiny, tinyarm"])
        }
    }

    func testMissingPathNamesPathAndErrno() {
        let path = directory + "/Boards/absent.toml"
        XCTAssertThrowsError(try BoardCatalog.resolve(nameOrPath: path, architecture: .x86_64, searchDirectories: [])) { error in
            assertOneLine(error as! BoardError, file: path, keyPath: nil, ["cannot open board file", "No such file or directory"])
        }
    }

    func testDirectoryIsNotABoardFile() {
        let path = directory + "/Boards/"
        XCTAssertThrowsError(try BoardCatalog.load(path: path)) { error in
            assertOneLine(error as! BoardError, file: path, keyPath: nil, ["Is a directory"])
        }
    }

    func testArchitectureMismatch() {
        XCTAssertThrowsError(try BoardCatalog.resolve(nameOrPath: "tinyarm", architecture: .x86_64,
                                                      searchDirectories: [directory + "/Boards"])) { error in
            assertOneLine(error as! BoardError, file: self.directory + "/Boards/tinyarm.toml", keyPath: "architecture",
                          ["board 'tinyarm' is for arm64", "runs x86_64 guests"])
        }
    }

    func testSearchDirectoriesFindRepositoryBoardsFromBuildDirectory() throws {
        let buildDirectory = directory + "/.build/x86_64-unknown-linux-gnu/debug"
        try FileManager.default.createDirectory(atPath: buildDirectory, withIntermediateDirectories: true)
        try "".write(toFile: directory + "/Boards/pc.toml", atomically: true, encoding: .utf8)
        XCTAssertEqual(BoardCatalog.searchDirectories(executablePath: buildDirectory + "/lkvm", environmentValue: nil),
                       [directory + "/Boards"])
        XCTAssertEqual(BoardCatalog.searchDirectories(executablePath: buildDirectory + "/lkvm", environmentValue: "/etc/lkvm:/opt"),
                       ["/etc/lkvm", "/opt", directory + "/Boards"])
        // Installed layout: Boards/ beside the executable comes first.
        XCTAssertEqual(BoardCatalog.searchDirectories(executablePath: directory + "/lkvm", environmentValue: nil),
                       [directory + "/Boards"])
    }

    func testRepositoryBoardsResolveByName() throws {
        let boards = BoardPCFileTests.repositoryRoot + "/Boards"
        let board = try BoardCatalog.resolve(nameOrPath: "pc", architecture: .x86_64, searchDirectories: [boards])
        XCTAssertEqual(board.name, "pc")
        XCTAssertTrue(BoardCatalog.availableBoards(in: [boards]).contains("pc"))
    }

    func testParentDirectory() {
        XCTAssertEqual(BoardCatalog.parentDirectory(of: "/a/b/c"), "/a/b")
        XCTAssertEqual(BoardCatalog.parentDirectory(of: "/a/b/"), "/a")
        XCTAssertEqual(BoardCatalog.parentDirectory(of: "/a"), "/")
        XCTAssertEqual(BoardCatalog.parentDirectory(of: "/"), "/")
        XCTAssertEqual(BoardCatalog.parentDirectory(of: "lkvm"), ".")
    }
}
