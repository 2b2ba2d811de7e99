import RouteSpec
import Testing

@testable import RouterRuntime

@Suite struct RPCCodeTests {
  /// google/rpc/code.proto: each code's number, wire name and documented HTTP status.
  @Test func everyCodeHasItsNumberNameAndHTTPStatus() {
    let table: [(RPCCode, Int, String, Int)] = [
      (.ok, 0, "OK", 200), (.cancelled, 1, "CANCELLED", 499), (.unknown, 2, "UNKNOWN", 500),
      (.invalidArgument, 3, "INVALID_ARGUMENT", 400), (.deadlineExceeded, 4, "DEADLINE_EXCEEDED", 504),
      (.notFound, 5, "NOT_FOUND", 404), (.alreadyExists, 6, "ALREADY_EXISTS", 409),
      (.permissionDenied, 7, "PERMISSION_DENIED", 403), (.resourceExhausted, 8, "RESOURCE_EXHAUSTED", 429),
      (.failedPrecondition, 9, "FAILED_PRECONDITION", 400), (.aborted, 10, "ABORTED", 409),
      (.outOfRange, 11, "OUT_OF_RANGE", 400), (.unimplemented, 12, "UNIMPLEMENTED", 501),
      (.internal, 13, "INTERNAL", 500), (.unavailable, 14, "UNAVAILABLE", 503), (.dataLoss, 15, "DATA_LOSS", 500),
      (.unauthenticated, 16, "UNAUTHENTICATED", 401),
    ]
    #expect(table.count == RPCCode.allCases.count)
    for (code, number, name, http) in table {
      #expect(code.rawValue == number, "\(name)")
      #expect(code.name == name)
      #expect(RPCCode(name: name) == code)
      #expect(code.httpStatus == http, "\(name)")
    }
    #expect(RPCCode(name: "invalid_argument") == nil)
    #expect(RPCCode(name: "TEAPOT") == nil)
  }

  /// An upstream's HTTP error status → the code it stands for, including statuses no table names.
  @Test func upstreamHTTPStatusToCode() {
    let table: [(Int, RPCCode)] = [
      (400, .invalidArgument), (401, .unauthenticated), (403, .permissionDenied), (404, .notFound),
      (408, .deadlineExceeded), (409, .aborted), (413, .invalidArgument), (422, .invalidArgument),
      (429, .resourceExhausted), (499, .invalidArgument), (500, .internal), (501, .unimplemented),
      (502, .unavailable), (503, .unavailable), (504, .deadlineExceeded),
      // Statuses no table names: the side of the fault is kept, the rest is unknown.
      (418, .invalidArgument), (451, .invalidArgument), (599, .internal), (505, .internal),
      (200, .unknown), (302, .unknown), (100, .unknown), (600, .unknown), (0, .unknown), (-1, .unknown),
      (Int.max, .unknown),
    ]
    for (status, code) in table {
      #expect(RPCCode(upstreamHTTPStatus: status) == code, "\(status)")
    }
  }

  /// Every upstream error status becomes an error answer: a 4xx or 5xx, never a success.
  @Test func mappedUpstreamErrorIsAlwaysAnErrorStatus() {
    for status in [0, 100, 200, 204, 302, 418, 599, 600, 999] {
      let http = RPCCode(upstreamHTTPStatus: status).httpStatus
      #expect((400..<600).contains(http), "\(status) → \(http)")
    }
  }

  @Test func geminiErrorRendersItsCode() {
    #expect(
      GeminiError(.failedPrecondition, message: "m").json.serialized()
        == #"{"error":{"code":400,"message":"m","status":"FAILED_PRECONDITION"}}"#)
    let gateway = GeminiError(.unavailable, message: "x", httpStatus: 502)
    #expect(gateway.code == 502 && gateway.status == "UNAVAILABLE" && gateway.rpc == .unavailable)
    #expect(GeminiError.unavailable("u").code == 503)
  }

  /// A Gemini backend's error body is relayed, but a code or status a client could not read is replaced.
  @Test func relayedGeminiErrorIsBounded() {
    let kept = Exchange.geminiError(
      Array(#"{"error":{"code":429,"message":"q","status":"RESOURCE_EXHAUSTED"}}"#.utf8), status: 429)
    #expect(kept == GeminiError(.resourceExhausted, message: "q"))
    let odd = Exchange.geminiError(
      Array(#"{"error":{"code":99999999999999,"message":"m","status":"TEAPOT"}}"#.utf8), status: 503)
    #expect(odd?.code == 503)
    #expect(odd?.rpc == .unavailable)
    let success = Exchange.geminiError(Array(#"{"error":{"code":200}}"#.utf8), status: 418)
    #expect(success?.code == 418)
    #expect(success?.rpc == .invalidArgument)
  }
}
