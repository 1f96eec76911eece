@testable import LKVMCore
import XCTest

final class ControlProtocolTests: XCTestCase {
    func request(_ text: String) throws -> ControlRequest { try ControlRequest(line: Array(text.utf8)) }

    func error(_ text: String) -> ControlProtocolError? {
        do { _ = try request(text); return nil } catch { return error as? ControlProtocolError }
    }

    func testEveryVerbRoundTripsThroughItsJSON() throws {
        for request in [ControlRequest.list, .stop, .pause, .resume, .stat, .debug(sysrq: nil, nmi: false),
                        .debug(sysrq: "t", nmi: true), .balloon(deltaMiB: 64), .balloon(deltaMiB: -32)] {
            XCTAssertEqual(try ControlRequest(line: Array(request.json.serialized.utf8)), request)
        }
        XCTAssertEqual(try request(#"{"verb":"balloon","version":1,"inflate_mib":8}"#), .balloon(deltaMiB: 8))
    }

    func testWrongVersionUnknownVerbAndWrongTypesAreErrors() {
        XCTAssertEqual(error(#"{"version":2,"verb":"list"}"#), .unsupportedVersion(2))
        XCTAssertEqual(error(#"{"version":1,"verb":"reboot"}"#), .unknownVerb("reboot"))
        for text in [#"{"verb":"list"}"#, #"{"version":"1","verb":"list"}"#, #"{"version":1}"#,
                     #"{"version":1,"verb":7}"#, #"[1]"#, #""list""#, #"{"version":1.0,"verb":"list"}"#,
                     #"{"version":1,"verb":"debug","nmi":"yes"}"#, #"{"version":1,"verb":"debug","sysrq":"tt"}"#,
                     #"{"version":1,"verb":"debug","sysrq":5}"#, #"{"version":1,"verb":"balloon"}"#,
                     #"{"version":1,"verb":"balloon","inflate_mib":1,"deflate_mib":1}"#,
                     #"{"version":1,"verb":"balloon","inflate_mib":-4}"#,
                     #"{"version":1,"verb":"balloon","deflate_mib":"4"}"#, "{not json"] {
            guard case .malformed = error(text) else { return XCTFail("\(text): \(String(describing: error(text)))") }
        }
    }

    func testResponsesCarryVersionAndOk() throws {
        XCTAssertEqual(ControlResponse.success([("state", .string("paused"))]).line,
                       #"{"version":1,"ok":true,"state":"paused"}"# + "\n")
        XCTAssertEqual(ControlResponse.failure("no").line, #"{"version":1,"ok":false,"error":"no"}"# + "\n")
        let parsed = try ControlResponse(json: JSONValue.parse(#"{"version":1,"ok":true,"pid":5}"#))
        XCTAssertEqual(parsed["pid"], .int(5))
        XCTAssertEqual(try ControlResponse(json: JSONValue.parse(#"{"version":1,"ok":false,"error":"x"}"#)), .failure("x"))
        XCTAssertThrowsError(try ControlResponse(json: JSONValue.parse(#"{"version":3,"ok":true}"#)))
    }
}
