import XCTest
@testable import LKVMCore

/// lkvm's TOML parser against the TOML 1.0 spec's own examples and its rules
/// on what is malformed.
final class TOMLParserTests: XCTestCase {
    private func parse(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> TOMLTable? {
        do { return try TOMLParser.parse(text) } catch {
            XCTFail("\(error.line):\(error.column): \(error.message)", file: file, line: line)
            return nil
        }
    }

    private func syntaxError(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> TOMLSyntaxError? {
        do {
            _ = try TOMLParser.parse(text)
            XCTFail("accepted \(text.debugDescription)", file: file, line: line)
            return nil
        } catch { return error }
    }

    func testKeysAndScalars() throws {
        let root = try XCTUnwrap(parse("""
            # comment
            name = "pc" # trailing comment
            bare_key-1 = 0x3FFF_0000
            "quoted key" = 'C:\\path'
            oct = 0o755
            bin = 0b1101
            neg = -17
            pos = +42
            big = 9_223_372_036_854_775_807
            yes = true
            no = false
            pi = 3.14
            exp = -2E-2
            infinite = -inf
            site."google.com" = 1
            """))
        XCTAssertEqual(root["name"]?.string, "pc")
        XCTAssertEqual(root["bare_key-1"]?.int, 0x3FFF_0000)
        XCTAssertEqual(root["quoted key"]?.string, "C:\\path")
        XCTAssertEqual(root["oct"]?.int, 0o755)
        XCTAssertEqual(root["bin"]?.int, 13)
        XCTAssertEqual(root["neg"]?.int, -17)
        XCTAssertEqual(root["pos"]?.int, 42)
        XCTAssertEqual(root["big"]?.int, Int.max)
        guard case .boolean(true) = root["yes"], case .boolean(false) = root["no"] else { return XCTFail("booleans") }
        guard case .float(let pi) = root["pi"], case .float(let exp) = root["exp"],
              case .float(let infinite) = root["infinite"] else { return XCTFail("floats") }
        XCTAssertEqual(pi, 3.14)
        XCTAssertEqual(exp, -0.02)
        XCTAssertEqual(infinite, -.infinity)
        XCTAssertEqual(root["site"]?.table?["google.com"]?.int, 1)
        XCTAssertEqual(root["pi"]?.typeName, "floating-point number")
        XCTAssertEqual(Set(root.keys).count, 14)
    }

    func testStrings() throws {
        let root = try XCTUnwrap(parse(#"""
            basic = "tab\there \"q\" \u00E9 \U0001F600"
            multi = """
            Roses \
              are red"""
            quotes = """two "" quotes"""""
            literal = '<\i\c*\s*>'
            lines = '''
            first
            second'''
            """#))
        XCTAssertEqual(root["basic"]?.string, "tab\there \"q\" \u{E9} \u{1F600}")
        XCTAssertEqual(root["multi"]?.string, "Roses are red")
        XCTAssertEqual(root["quotes"]?.string, "two \"\" quotes\"\"")
        XCTAssertEqual(root["literal"]?.string, #"<\i\c*\s*>"#)
        XCTAssertEqual(root["lines"]?.string, "first\nsecond")
    }

    func testTablesArraysAndInlineTables() throws {
        let root = try XCTUnwrap(parse("""
            [cpus]
            default = 1
            [a.b.c]
            x = 1
            [a]
            y = 2
            [[devices]]
            kind = "uart"
            [[devices]]
            kind = "rtc"
            [devices.extra]
            z = 3
            [pci]
            ecam = { base = 0x40000000, size = 0x10000000, deep.er = 1 }
            list = [ 1, 2,
              # comment inside
              3, ]
            nested = [[1, 2], ["a"], []]
            when = 1979-05-27T07:32:00Z
            day = 1979-05-27
            local = 1979-05-27 07:32:00.5
            """))
        XCTAssertEqual(root["cpus"]?.table?["default"]?.int, 1)
        XCTAssertEqual(root["a"]?.table?["b"]?.table?["c"]?.table?["x"]?.int, 1)
        XCTAssertEqual(root["a"]?.table?["y"]?.int, 2)
        let devices = try XCTUnwrap(root["devices"]?.array)
        XCTAssertEqual(devices.map { $0.table?["kind"]?.string }, ["uart", "rtc"])
        XCTAssertEqual(devices[1].table?["extra"]?.table?["z"]?.int, 3)
        let pci = try XCTUnwrap(root["pci"]?.table)
        XCTAssertEqual(pci["ecam"]?.table?["size"]?.int, 0x1000_0000)
        XCTAssertEqual(pci["ecam"]?.table?["deep"]?.table?["er"]?.int, 1)
        XCTAssertEqual(pci["list"]?.array?.compactMap(\.int), [1, 2, 3])
        XCTAssertEqual(pci["nested"]?.array?.count, 3)
        XCTAssertEqual(pci["when"]?.typeName, "date-time")
        XCTAssertEqual(pci["day"]?.typeName, "date")
        XCTAssertEqual(pci["local"]?.typeName, "date-time")
    }

    func testMalformedDocumentsAreOneErrorWithAPosition() throws {
        let cases: [(String, String)] = [
            ("[cpus", "expected ']'"),
            ("a = 1\na = 2", "cannot redefine"),
            ("[t]\n[t]", "cannot redefine"),
            ("a.b = 1\n[a]", "cannot redefine"),
            ("t = { x = 1 }\n[t]", "cannot redefine"),
            ("t = { x = 1 }\nt.y = 2", "already defined"),
            ("a = [1]\n[[a]]", "not an array of tables"),
            ("a = 99999999999999999999999", "not representable in 64 bits"),
            ("a = 0x", "invalid value"),
            ("a = 012", "invalid value"),
            ("a = 1__0", "invalid value"),
            ("a = _1", "invalid value"),
            ("a = 1.", "invalid value"),
            ("a = \"open", "unterminated string"),
            ("a = \"\\q\"", "unknown escape"),
            ("a = \"\\uD800\"", "Unicode scalar"),
            ("a = '''never closed", "unterminated"),
            ("a = 1 b = 2", "end of the line"),
            ("a = [1 2]", "expected ','"),
            ("a = { b = 1, }", "expected a key"),
            ("= 1", "expected a key"),
            ("a =", "expected a value"),
            ("a = " + String(repeating: "[", count: 100), "nest too deep"),
        ]
        for (text, message) in cases {
            guard let error = syntaxError(text) else { continue }
            XCTAssertTrue(error.message.contains(message), "\(text.debugDescription): \(error.message)")
            XCTAssertGreaterThanOrEqual(error.line, 1)
        }
        let error = try XCTUnwrap(syntaxError("a = 1\nb = 2\n[cpus"))
        XCTAssertEqual(error.line, 3)
        XCTAssertEqual(error.column, 6)
    }

    /// Every shipped board parses.
    func testShippedBoardsParse() throws {
        let boards = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Boards")
        for name in ["pc.toml", "virt.toml", "kvmtool-arm64.toml"] {
            let text = try String(contentsOf: boards.appendingPathComponent(name), encoding: .utf8)
            let root = try XCTUnwrap(parse(text), name)
            XCTAssertNotNil(root["name"]?.string, name)
        }
    }
}
