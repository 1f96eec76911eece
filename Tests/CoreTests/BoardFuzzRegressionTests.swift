import XCTest
@testable import LKVMCore

/// Board texts the fuzzer (docs/fuzzing.md) found crashing lkvm; each is in
/// Fuzz/corpus/FuzzBoard as well.
final class BoardFuzzRegressionTests: XCTestCase {
    /// `[` then U+000E made toml++ abort on an assertion in parse_key().
    func testControlCharacterAfterTableBracketIsASyntaxError() {
        for text in ["[\u{0E}", "name = \"x\"\n[\u{01}a]", "a = 1\u{7F}"] {
            do {
                _ = try BoardCatalog.parse(text: text, fileName: "fuzz.toml")
                XCTFail("parsed \(text.debugDescription)")
            } catch {
                XCTAssertTrue(error.description.contains("TOML syntax error: control character U+00"), error.description)
                XCTAssertTrue(error.description.hasPrefix("fuzz.toml:"), error.description)
            }
        }
        let error: BoardError
        do {
            _ = try BoardCatalog.parse(text: "a = 1\n  [\u{0E}", fileName: "b.toml")
            return XCTFail("parsed")
        } catch let caught {
            error = caught
        }
        XCTAssertEqual(error.line, 2)
        XCTAssertEqual(error.column, 4)
        XCTAssertTrue(error.description.contains("U+000E"), error.description)
    }

    /// `[` or `[[` then anything but a key made toml++ abort in parse_key()
    /// too: `[[\u{FFFD}devices]]` came from a mutated Boards/pc.toml.
    func testTableHeaderWithoutKeyIsASyntaxError() {
        for text in ["[!a]", "name = \"x\"\n[[\u{FFFD}devices]]", "[[ \t{]]", "[\u{FFFD}"] {
            do {
                _ = try BoardCatalog.parse(text: text, fileName: "fuzz.toml")
                XCTFail("parsed \(text.debugDescription)")
            } catch {
                XCTAssertTrue(error.description.contains("a table header must start with a key"), error.description)
            }
        }
    }

    /// Brackets first on a line inside values, strings and comments are not headers.
    func testBracketsInsideValuesAreNotHeaders() {
        let texts = ["a = [\n  [ [1] ],\n  [\"x\"],\n]", "d = \"\"\"\n[!x\n\"\"\"", "e = '''\n[ !\n'''",
                     "# [!\n[\"quoted key\"]\n", "[a . \"b\"] # [!"]
        for text in texts {
            do {
                _ = try BoardCatalog.parse(text: text, fileName: "fuzz.toml")
            } catch {
                XCTAssertFalse(error.description.contains("TOML syntax error"), "\(text.debugDescription): \(error)")
            }
        }
    }

    /// A `}` where an array element should start (`a = [}]`, `a = [1, }]`)
    /// made toml++ abort in parse_value(): found by fuzzing the board targets.
    func testCloseBraceInsideArrayIsASyntaxError() {
        for text in ["a = [}]", "a = [1, }]", "a = [\n  # c\n  }\n]", "a = [ [ } ] ]"] {
            do {
                _ = try BoardCatalog.parse(text: text, fileName: "fuzz.toml")
                XCTFail("parsed \(text.debugDescription)")
            } catch {
                XCTAssertTrue(error.description.contains("'}' inside an array"), error.description)
            }
        }
        XCTAssertThrowsError(try BoardCatalog.parse(text: "a = [{ b = 1 }, { c = \"}\" }]", fileName: "f.toml")) { error in
            XCTAssertFalse("\(error)".contains("TOML syntax error"), "\(error)")
        }
    }

    /// Tabs, LF and CRLF stay legal.
    func testTabsAndLineEndsStillParse() throws {
        let text = validX86Board.replacingOccurrences(of: "\n", with: "\r\n").replacingOccurrences(of: "lines = 24", with: "lines =\t24")
        XCTAssertNoThrow(try BoardCatalog.parse(text: text, fileName: "crlf.toml"))
    }
}
