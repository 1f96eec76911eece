@testable import LKVMCore
import XCTest

final class JSONValueTests: XCTestCase {
    func testParsesEveryKindOfValue() throws {
        let value = try JSONValue.parse(#" {"a": [1, -2, 3.5, true, false, null], "b": {"c": "d"}, "e": -9223372036854775808} "#)
        XCTAssertEqual(value["a"], .array([.int(1), .int(-2), .double(3.5), .bool(true), .bool(false), .null]))
        XCTAssertEqual(value["b"]?["c"], .string("d"))
        XCTAssertEqual(value["e"], .int(Int64.min))
        XCTAssertEqual(try JSONValue.parse("1e3"), .double(1000))
    }

    func testStringEscapesIncludingSurrogatePairs() throws {
        XCTAssertEqual(try JSONValue.parse(#""a\"b\\c\/d\n\t\r\b\f""#), .string("a\"b\\c/d\n\t\r\u{08}\u{0C}"))
        XCTAssertEqual(try JSONValue.parse(#""\u00e9\u4E2D\ud83d\ude00""#), .string("é中😀"))
        XCTAssertEqual(try JSONValue.parse("\"é中\""), .string("é中"))
    }

    func testSerializationRoundTripsAndEscapesControlCharacters() throws {
        let value = JSONValue.object([("s", .string("q\"\\\n\u{01}é😀")), ("n", .int(-5)), ("d", .double(0.25)),
                                      ("a", .array([.null, .bool(true)])), ("o", .object([]))])
        let text = value.serialized
        XCTAssertFalse(text.contains("\n"))
        XCTAssertTrue(text.contains("\\u0001"), text)
        XCTAssertEqual(try JSONValue.parse(text), value)
        XCTAssertEqual(JSONValue.double(.infinity).serialized, "null")
    }

    func testMalformedTextIsRefused() {
        for text in ["", "{", "[1,]", "{\"a\"}", "{\"a\":1,}", "tru", "nul", "01", "-", "1.", "1e", "\"abc",
                     "\"\\x\"", "\"\\u12\"", "\"\\ud800\"", "\"\\udc00\"", "\"\\ud800\\u0041\"", "{} {}", "[1] x",
                     "\"a\u{01}b\"", "{1:2}", "99999999999999999999", "1e999", "'a'", "+1"] {
            XCTAssertThrowsError(try JSONValue.parse(text), "accepted \(text.debugDescription)")
        }
        // Invalid UTF-8 inside a string.
        XCTAssertThrowsError(try JSONValue.parse([0x22, 0xFF, 0xFE, 0x22]))
    }

    func testDeepNestingIsRefusedWithoutRecursingFurther() {
        XCTAssertNoThrow(try JSONValue.parse(String(repeating: "[", count: 16) + String(repeating: "]", count: 16)))
        let deep = String(repeating: "[", count: 17) + String(repeating: "]", count: 17)
        XCTAssertThrowsError(try JSONValue.parse(deep)) { XCTAssertEqual($0 as? JSONParseError, .tooDeep(limit: 16)) }
        // A hostile line of 64 KiB of '{' fails fast at depth 17, not with a stack overflow.
        let hostile = String(repeating: "{\"a\":", count: 10_000)
        XCTAssertThrowsError(try JSONValue.parse(hostile)) { XCTAssertEqual($0 as? JSONParseError, .tooDeep(limit: 16)) }
    }

    func testOversizedInputIsRefused() {
        let huge = "\"" + String(repeating: "x", count: JSONValue.maxBytes) + "\""
        XCTAssertThrowsError(try JSONValue.parse(huge)) {
            XCTAssertEqual($0 as? JSONParseError, .tooLong(limit: JSONValue.maxBytes))
        }
    }
}
