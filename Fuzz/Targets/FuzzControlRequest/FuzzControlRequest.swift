import FuzzSupport
import LKVMCore

/// The control socket's request line: `ControlRequest(line:)` is what the
/// ControlServer calls on each line a client sends. Whatever parses must
/// come back equal after serialising and parsing again, for the JSON value
/// and for the request; the client's side (`ControlResponse`) likewise.
///
///     the input   one request line (no framing: the server has cut it)
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzControlRequest(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let line = Array(UnsafeBufferPointer(start: data, count: size))
    if let value = try? JSONValue.parse(line) {
        // Escaping may make the text longer than the parser's limit: not a mismatch.
        let text = value.serialized
        precondition(!text.utf8.contains(10), "a serialised value spans lines: \(text)")
        guard let again = try? JSONValue.parse(Array(text.utf8), maxBytes: .max) else {
            fatalError("lkvm cannot parse its own JSON: \(text)")
        }
        precondition(again == value, "JSON round trip changed the value: \(text)")
        if let response = try? ControlResponse(json: value) {
            let reread = try? ControlResponse(json: JSONValue.parse(Array(response.json.serialized.utf8), maxBytes: .max))
            precondition(reread == response, "response round trip changed it: \(response.line)")
        }
    }
    do {
        let request = try ControlRequest(line: line)
        let text = request.json.serialized
        guard let again = try? ControlRequest(line: Array(text.utf8)) else {
            fatalError("a valid request serialises to a refused one: \(text)")
        }
        precondition(again == request, "request round trip changed it: \(text)")
    } catch {
        // The error goes back to the client as one line, whatever the request held.
        let reply = ControlResponse.failure(error.description).line
        precondition(reply.utf8.firstIndex(of: 10) == reply.utf8.index(before: reply.utf8.endIndex),
                     "an error reply spans lines: \(reply)")
    }
    return 0
}

/// The executable's entry (see CFuzzMain.h): libFuzzer's driver.
@_cdecl("FuzzControlRequest_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    fuzzDriver(argc, argv)
}
