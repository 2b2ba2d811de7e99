public import RouteSpec

/// A `google.rpc.Code`: the canonical status of a Google API error, with its protobuf number as raw value.
///
/// The two HTTP mappings live here and nowhere else: ``httpStatus`` (google/rpc/code.proto's documented
/// status for each code) and ``init(upstreamHTTPStatus:)`` (the code an upstream's HTTP error answer stands
/// for).
public enum RPCCode: Int, Sendable, CaseIterable {
  case ok = 0
  case cancelled = 1
  case unknown = 2
  case invalidArgument = 3
  case deadlineExceeded = 4
  case notFound = 5
  case alreadyExists = 6
  case permissionDenied = 7
  case resourceExhausted = 8
  case failedPrecondition = 9
  case aborted = 10
  case outOfRange = 11
  case unimplemented = 12
  case `internal` = 13
  case unavailable = 14
  case dataLoss = 15
  case unauthenticated = 16

  /// The name on the wire (`status` in an error body), e.g. `INVALID_ARGUMENT`.
  public var name: String {
    switch self {
    case .ok: "OK"
    case .cancelled: "CANCELLED"
    case .unknown: "UNKNOWN"
    case .invalidArgument: "INVALID_ARGUMENT"
    case .deadlineExceeded: "DEADLINE_EXCEEDED"
    case .notFound: "NOT_FOUND"
    case .alreadyExists: "ALREADY_EXISTS"
    case .permissionDenied: "PERMISSION_DENIED"
    case .resourceExhausted: "RESOURCE_EXHAUSTED"
    case .failedPrecondition: "FAILED_PRECONDITION"
    case .aborted: "ABORTED"
    case .outOfRange: "OUT_OF_RANGE"
    case .unimplemented: "UNIMPLEMENTED"
    case .internal: "INTERNAL"
    case .unavailable: "UNAVAILABLE"
    case .dataLoss: "DATA_LOSS"
    case .unauthenticated: "UNAUTHENTICATED"
    }
  }

  /// The code with this wire name; nil for a name that is none of them.
  public init?(name: String) {
    guard let code = Self.allCases.first(where: { $0.name == name }) else { return nil }
    self = code
  }

  /// The HTTP status google/rpc/code.proto documents for the code.
  public var httpStatus: Int {
    switch self {
    case .ok: 200
    case .cancelled: 499
    case .unknown, .internal, .dataLoss: 500
    case .invalidArgument, .failedPrecondition, .outOfRange: 400
    case .deadlineExceeded: 504
    case .notFound: 404
    case .alreadyExists, .aborted: 409
    case .permissionDenied: 403
    case .unauthenticated: 401
    case .resourceExhausted: 429
    case .unimplemented: 501
    case .unavailable: 503
    }
  }

  /// The code an upstream's HTTP error answer stands for.
  ///
  /// A 4xx the table does not name is the request's fault (`INVALID_ARGUMENT`), a 5xx it does not name the
  /// backend's (`INTERNAL`); a status that is no error at all is `UNKNOWN`. An upstream 499 says the
  /// upstream thinks louter went away, which is no client's cancellation: it is a 4xx like any other.
  public init(upstreamHTTPStatus status: Int) {
    switch status {
    case 401: self = .unauthenticated
    case 403: self = .permissionDenied
    case 404: self = .notFound
    case 408, 504: self = .deadlineExceeded
    case 409: self = .aborted
    case 429: self = .resourceExhausted
    case 400..<500: self = .invalidArgument
    case 501: self = .unimplemented
    case 502, 503: self = .unavailable
    case 500..<600: self = .internal
    default: self = .unknown
    }
  }
}

/// A Gemini API error (`google.rpc.Status` over HTTP), as louter sends it to clients.
///
/// Rendered as `{"error":{"code":H,"message":…,"status":S,"details":[…]}}` where `code` is the HTTP status.
public struct GeminiError: Error, Sendable, Equatable {
  /// The HTTP status (also the `code` in the body): the code's own unless the error says otherwise.
  public var code: Int
  /// The canonical status.
  public var rpc: RPCCode
  /// The message shown to the client.
  public var message: String
  /// `details[]` entries, each an object with an `@type`.
  public var details: [JSONValue]

  /// Creates an error; `httpStatus` replaces the code's documented status (a 502 `UNAVAILABLE`, a 413
  /// `INVALID_ARGUMENT`).
  public init(_ rpc: RPCCode, message: String, details: [JSONValue] = [], httpStatus: Int? = nil) {
    self.code = httpStatus ?? rpc.httpStatus
    self.rpc = rpc
    self.message = message
    self.details = details
  }

  /// The canonical status name, e.g. `INVALID_ARGUMENT`.
  public var status: String { rpc.name }

  /// The error body object.
  public var json: JSONValue {
    var members: [JSONMember] = [
      JSONMember("code", .int(Int64(code))),
      JSONMember("message", .string(message)),
      JSONMember("status", .string(status)),
    ]
    if !details.isEmpty { members.append(JSONMember("details", .array(details))) }
    return .object([JSONMember("error", .object(members))])
  }

  /// The serialised body.
  public var bodyBytes: [UInt8] { json.serializedBytes() }

  /// 400 `INVALID_ARGUMENT`.
  public static func invalidArgument(_ message: String) -> GeminiError {
    GeminiError(.invalidArgument, message: message)
  }

  /// 404 `NOT_FOUND`.
  public static func notFound(_ message: String) -> GeminiError {
    GeminiError(.notFound, message: message)
  }

  /// 500 `INTERNAL`.
  public static func `internal`(_ message: String) -> GeminiError {
    GeminiError(.internal, message: message)
  }

  /// 503 `UNAVAILABLE`: the backend could not be reached or its answer broke off.
  public static func unavailable(_ message: String) -> GeminiError {
    GeminiError(.unavailable, message: message)
  }

  /// 504 `DEADLINE_EXCEEDED`.
  public static func deadlineExceeded(_ message: String) -> GeminiError {
    GeminiError(.deadlineExceeded, message: message)
  }

  /// An `ErrorInfo` detail.
  public static func errorInfo(reason: String, domain: String = "louter", metadata: [(String, String)] = [])
    -> JSONValue
  {
    var members: [JSONMember] = [
      JSONMember("@type", "type.googleapis.com/google.rpc.ErrorInfo"),
      JSONMember("reason", .string(reason)),
      JSONMember("domain", .string(domain)),
    ]
    if !metadata.isEmpty {
      members.append(JSONMember("metadata", .object(metadata.map { JSONMember($0.0, .string($0.1)) })))
    }
    return .object(members)
  }
}

/// How an upstream (OpenAI-compatible) failure is presented to the Gemini client.
public enum UpstreamFailure: Sendable, Equatable {
  /// Send this error with its HTTP status.
  case error(GeminiError)
  /// Answer HTTP 200 with this blocked-prompt response (`promptFeedback.blockReason`, no candidates).
  case promptBlocked(JSONValue)
}

/// Maps OpenAI-compatible error answers to Gemini errors (protocols.md §7.5).
public enum UpstreamErrorMapper {
  /// What was read out of an upstream error body.
  public struct UpstreamErrorBody: Sendable, Equatable {
    /// The message (`error.message`, top-level `message`, or the raw text).
    public var message: String
    /// `error.type`, if any.
    public var type: String?
    /// `error.code` as text (OpenAI uses strings, old vLLM numbers), if any.
    public var code: String?
    /// `error.param`, if any.
    public var param: String?
  }

  /// Reads the OpenAI `{"error":{…}}`, old vLLM `{"object":"error","message":…}` or raw-text body.
  public static func readBody(_ body: [UInt8]) -> UpstreamErrorBody {
    if let json = try? JSONParser.parse(body) {
      let inner: JSONValue? =
        switch json["error"] {
        case .some(.object(let members)): .object(members)
        case .some(.string(let text)): .object([JSONMember("message", .string(text))])
        default: json.objectValue != nil ? json : nil
        }
      if let inner, let message = inner["message"]?.stringValue ?? inner["detail"]?.stringValue {
        return UpstreamErrorBody(
          message: message, type: inner["type"]?.stringValue, code: text(of: inner["code"]),
          param: inner["param"]?.stringValue)
      }
    }
    var raw = String(decoding: body.prefix(2000), as: UTF8.self)
    raw = raw.trimmingWhitespace()
    return UpstreamErrorBody(message: raw, type: nil, code: nil, param: nil)
  }

  private static func text(of value: JSONValue?) -> String? {
    switch value {
    case .some(.string(let text)): text
    case .some(.int(let number)): String(number)
    // A huge or fractional double (`1e300`) stays as its own text; converting it would trap.
    case .some(.double(let number)): BoundedInteger.exact(number).map { String($0) } ?? String(number)
    default: nil
    }
  }

  /// Maps an upstream HTTP error answer.
  ///
  /// - Parameters:
  ///   - status: the upstream HTTP status.
  ///   - body: the upstream body bytes.
  ///   - retryAfter: the upstream `retry-after` header (seconds), if any; `retry-after-ms` may be passed as
  ///     `retryAfterMilliseconds`.
  ///   - backend: backend name for `ErrorInfo.metadata`.
  ///   - clientKeyForwarded: whether the client's own key was sent upstream (401/403 are then the client's).
  public static func map(
    status: Int, body: [UInt8], retryAfter: String? = nil, retryAfterMilliseconds: String? = nil,
    backend: String, clientKeyForwarded: Bool = false
  ) -> UpstreamFailure {
    let upstream = readBody(body)
    let reason = upstream.code ?? upstream.type ?? "UPSTREAM_HTTP_\(status)"
    var metadata: [(String, String)] = [("backend", backend), ("upstreamStatus", String(status))]
    let lowered = (upstream.code ?? "") + " " + (upstream.type ?? "") + " " + upstream.message.lowercased()
    if status == 400 && upstream.code == "content_filter" && (upstream.param == nil || upstream.param == "prompt") {
      // Mirrors Gemini's own blocked-prompt answer; usage is unknown, and zeros would be a lie.
      return .promptBlocked(.object([JSONMember("promptFeedback", .object([JSONMember("blockReason", "SAFETY")]))]))
    }
    var message = upstream.message.isEmpty ? "upstream returned HTTP \(status)" : upstream.message
    var rpc = RPCCode(upstreamHTTPStatus: status)
    switch status {
    case 400, 413, 422:
      if saysContextTooLong(lowered) {
        message = "The input exceeds the model's context window (context length exceeded): " + message
      }
    case 401 where !clientKeyForwarded, 403 where !clientKeyForwarded:
      // louter's own key was refused: the route file's fault, not the client's.
      rpc = .internal
      message = "upstream authentication failed: " + message
    default:
      break
    }
    var details: [JSONValue] = []
    if rpc == .resourceExhausted, let delay = retryDelay(retryAfter: retryAfter, milliseconds: retryAfterMilliseconds) {
      metadata.append(("retryAfter", delay))
      details.append(errorInfo(reason: reason, metadata: metadata))
      details.append(
        .object([
          JSONMember("@type", "type.googleapis.com/google.rpc.RetryInfo"),
          JSONMember("retryDelay", .string(delay)),
        ]))
    } else {
      details.append(errorInfo(reason: reason, metadata: metadata))
    }
    return .error(GeminiError(rpc, message: message, details: details))
  }

  /// Whether an error answer says the input is longer than the model's context window: OpenAI's
  /// `context_length_exceeded` and "maximum context length" (vLLM and others alike), Gemini's "The input token
  /// count (N) exceeds the maximum number of tokens allowed (M)". Only 400, 413 and 422 can say it.
  public static func refusesContextLength(status: Int, body: [UInt8]) -> Bool {
    guard status == 400 || status == 413 || status == 422 else { return false }
    let upstream = readBody(body)
    return saysContextTooLong((upstream.code ?? "") + " " + (upstream.type ?? "") + " " + upstream.message.lowercased())
  }

  /// The one wording test behind ``refusesContextLength(status:body:)`` and the mapped message.
  private static func saysContextTooLong(_ lowered: String) -> Bool {
    lowered.contains("context_length_exceeded") || lowered.contains("maximum context length")
      || lowered.contains("context length") || lowered.contains("exceeds the maximum number of tokens")
  }

  private static func errorInfo(reason: String, metadata: [(String, String)]) -> JSONValue {
    GeminiError.errorInfo(reason: reason, metadata: metadata)
  }

  /// The longest retry delay louter passes on; a larger upstream value (`Retry-After: 1e300`) is clamped to it.
  public static let maxRetryDelaySeconds: Int64 = 86_400

  /// `retry-after` (seconds or an HTTP-date) or `retry-after-ms` as a protobuf Duration string like `37s`,
  /// clamped to ``maxRetryDelaySeconds``; ``RetryAfter`` reads the headers.
  /// `now` is the Unix time in seconds an HTTP-date is measured against (the clock when nil).
  public static func retryDelay(retryAfter: String?, milliseconds: String? = nil, now: Int64? = nil) -> String? {
    RetryAfter.milliseconds(retryAfter: retryAfter, milliseconds: milliseconds, now: now ?? RetryAfter.now()).map {
      durationString(milliseconds: $0)
    }
  }

  /// `37s` or `1.500s`; `milliseconds` is at most ``maxRetryDelaySeconds`` × 1000, so nothing here overflows.
  private static func durationString(milliseconds: Int64) -> String {
    let whole = milliseconds / 1000
    let fraction = milliseconds % 1000
    if fraction == 0 { return "\(whole)s" }
    let digits = String(fraction)
    return "\(whole)." + String(repeating: "0", count: 3 - digits.count) + digits + "s"
  }

  /// Maps an error event received inside a stream after HTTP 200 (`data: {"error":…}`, or old vLLM's top level).
  public static func mapStreamError(_ event: JSONValue, backend: String) -> GeminiError {
    let upstream = readBody(event.serializedBytes())
    var status = 500
    if let code = upstream.code, let number = Int(code), (400..<600).contains(number) {
      status = number
    } else {
      let hint = (upstream.code ?? "") + " " + (upstream.type ?? "")
      if hint.contains("rate_limit") || hint.contains("insufficient_quota") {
        status = 429
      } else if hint.contains("context_length") || hint.contains("invalid_request") || hint.contains("content_filter") {
        status = 400
      } else if hint.contains("timeout") {
        status = 504
      }
    }
    guard case .error(let error) = map(status: status, body: event.serializedBytes(), backend: backend) else {
      // A content filter hit after 200 can no longer become a blocked-prompt answer.
      return GeminiError(
        .invalidArgument,
        message: "The response was blocked by the backend's content filter: "
          + upstream.message,
        details: [errorInfo(reason: "content_filter", metadata: [("backend", backend)])])
    }
    return error
  }
}

extension String {
  /// The text without leading and trailing whitespace (`Character.isWhitespace`).
  func trimmingWhitespace() -> String {
    // Fast path, without a copy: every stream chunk's data passes here. A first byte that is ASCII and not
    // whitespace starts a character that is not whitespace; a last byte that is ASCII and not whitespace ends
    // one (such a byte can only be preceded in its character by a non-whitespace Prepend scalar).
    if let first = utf8.first, let last = utf8.last, first < 0x80, last < 0x80,
      !Self.isASCIIWhitespace(first), !Self.isASCIIWhitespace(last)
    {
      return self
    }
    var scalars = Substring(self)
    while let first = scalars.first, first.isWhitespace { scalars.removeFirst() }
    while let last = scalars.last, last.isWhitespace { scalars.removeLast() }
    return String(scalars)
  }

  /// The ASCII bytes Unicode calls White_Space: HT, LF, VT, FF, CR and space.
  private static func isASCIIWhitespace(_ byte: UInt8) -> Bool {
    byte == 0x20 || (0x09...0x0D).contains(byte)
  }
}
