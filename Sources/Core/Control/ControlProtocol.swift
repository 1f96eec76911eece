/// The control protocol: one JSON object per line each way, one request per
/// connection. Requests: `{"version":1,"verb":"pause"}` plus the verb's
/// arguments; responses: `{"version":1,"ok":true,...}` or
/// `{"version":1,"ok":false,"error":"..."}`. docs/control.md is the reference.
public enum ControlProtocol {
    public static let version: Int64 = 1
}

/// A request the VM understands, validated.
public enum ControlRequest: Equatable, Sendable {
    /// The VM's summary (what `lkvm list` shows).
    case list
    case stop
    case pause
    case resume
    /// Registers of every vCPU; `sysrq` and `nmi` ask the guest to print its own state.
    case debug(sysrq: String?, nmi: Bool)
    /// Memory figures (and the balloon's, when there is one).
    case stat
    /// Changes the balloon by `mebibytes`: positive inflates, negative deflates.
    case balloon(deltaMiB: Int)

    public var verb: String {
        switch self {
        case .list: "list"
        case .stop: "stop"
        case .pause: "pause"
        case .resume: "resume"
        case .debug: "debug"
        case .stat: "stat"
        case .balloon: "balloon"
        }
    }

    public static let verbs = ["list", "stop", "pause", "resume", "debug", "stat", "balloon"]

    /// The request as the client sends it.
    public var json: JSONValue {
        var members: [(String, JSONValue)] = [("version", .int(ControlProtocol.version)), ("verb", .string(verb))]
        switch self {
        case .debug(let sysrq, let nmi):
            if let sysrq { members.append(("sysrq", .string(sysrq))) }
            if nmi { members.append(("nmi", .bool(true))) }
        case .balloon(let delta):
            members.append(delta >= 0 ? ("inflate_mib", .int(Int64(delta))) : ("deflate_mib", .int(-Int64(delta))))
        default: break
        }
        return .object(members)
    }

    /// Validates one request line; the error text goes back to the client.
    public init(line: [UInt8]) throws(ControlProtocolError) {
        let value: JSONValue
        do { value = try JSONValue.parse(line) } catch { throw .malformed(error.description) }
        try self.init(json: value)
    }

    public init(json: JSONValue) throws(ControlProtocolError) {
        guard case .object = json else { throw .malformed("a request must be a JSON object") }
        guard let versionValue = json["version"] else { throw .malformed("the request has no \"version\"") }
        guard let version = versionValue.intValue else { throw .malformed("\"version\" must be an integer") }
        guard version == ControlProtocol.version else { throw .unsupportedVersion(version) }
        guard let verbValue = json["verb"] else { throw .malformed("the request has no \"verb\"") }
        guard let verb = verbValue.stringValue else { throw .malformed("\"verb\" must be a string") }
        switch verb {
        case "list": self = .list
        case "stop": self = .stop
        case "pause": self = .pause
        case "resume": self = .resume
        case "stat": self = .stat
        case "debug":
            var sysrq: String?
            if let value = json["sysrq"], value != .null {
                guard let key = value.stringValue, key.unicodeScalars.count == 1,
                      key.unicodeScalars.first!.isASCII, key.unicodeScalars.first!.properties.isAlphabetic
                        || ("0"..."9").contains(key.unicodeScalars.first!) else {
                    throw .malformed("\"sysrq\" must be one letter or digit")
                }
                sysrq = key
            }
            var nmi = false
            if let value = json["nmi"], value != .null {
                guard let flag = value.boolValue else { throw .malformed("\"nmi\" must be true or false") }
                nmi = flag
            }
            self = .debug(sysrq: sysrq, nmi: nmi)
        case "balloon":
            let inflate = try Self.mebibytes(json, "inflate_mib"), deflate = try Self.mebibytes(json, "deflate_mib")
            switch (inflate, deflate) {
            case (let amount?, nil): self = .balloon(deltaMiB: amount)
            case (nil, let amount?): self = .balloon(deltaMiB: -amount)
            default: throw .malformed("balloon needs exactly one of \"inflate_mib\" and \"deflate_mib\"")
            }
        default:
            throw .unknownVerb(verb)
        }
    }

    private static func mebibytes(_ json: JSONValue, _ key: String) throws(ControlProtocolError) -> Int? {
        guard let value = json[key], value != .null else { return nil }
        guard let amount = value.intValue, amount > 0, amount <= 1 << 30 else {
            throw .malformed("\"\(key)\" must be a positive whole number of MiB")
        }
        return Int(amount)
    }
}

/// Why a request was refused before reaching the VM.
public enum ControlProtocolError: Error, Equatable, CustomStringConvertible {
    case malformed(String)
    case unsupportedVersion(Int64)
    case unknownVerb(String)
    case tooLong(limit: Int)

    public var description: String {
        switch self {
        case .malformed(let what): "bad request: \(what)"
        case .unsupportedVersion(let version):
            "unsupported protocol version \(version) (this lkvm speaks version \(ControlProtocol.version))"
        case .unknownVerb(let verb):
            "unknown verb '\(verb.prefix(64))' (known: \(ControlRequest.verbs.joined(separator: ", ")))"
        case .tooLong(let limit): "bad request: longer than \(limit) bytes"
        }
    }
}

/// The VM's answer: fields on success, one error line otherwise.
public enum ControlResponse: Equatable, Sendable {
    case success([(String, JSONValue)])
    case failure(String)

    public static func == (lhs: ControlResponse, rhs: ControlResponse) -> Bool { lhs.json == rhs.json }

    public var json: JSONValue {
        switch self {
        case .success(let fields):
            .object([("version", .int(ControlProtocol.version)), ("ok", .bool(true))]
                    + fields.filter { $0.0 != "version" && $0.0 != "ok" })
        case .failure(let message):
            .object([("version", .int(ControlProtocol.version)), ("ok", .bool(false)), ("error", .string(message))])
        }
    }

    /// The line sent back, newline included.
    public var line: String { json.serialized + "\n" }

    /// Reads a response line (the client's side).
    public init(json: JSONValue) throws(ControlProtocolError) {
        guard case .object(let members) = json else { throw .malformed("a response must be a JSON object") }
        guard json["version"]?.intValue == ControlProtocol.version else {
            throw .unsupportedVersion(json["version"]?.intValue ?? 0)
        }
        guard let ok = json["ok"]?.boolValue else { throw .malformed("the response has no \"ok\"") }
        if ok {
            self = .success(members.filter { $0.0 != "version" && $0.0 != "ok" })
        } else {
            self = .failure(json["error"]?.stringValue ?? "the VM gave no reason")
        }
    }

    public init(_ fields: [(String, JSONValue)]) { self = .success(fields) }

    /// A success field by name.
    public subscript(key: String) -> JSONValue? {
        guard case .success(let fields) = self else { return nil }
        return fields.first { $0.0 == key }?.1
    }
}

/// What the VM does with a valid request. Called on the control server's
/// thread, one request at a time.
public protocol ControlHandler: Sendable {
    func handle(_ request: ControlRequest) -> ControlResponse
}
