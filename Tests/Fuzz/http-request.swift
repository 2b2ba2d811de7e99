@testable import RouterRuntime

/// What the request parser produced, in a comparable form.
struct Outcome: Equatable {
  var requests: [String] = []
  var failed = false
}

/// Feeds `pieces` to a fresh parser with small limits (so the limit paths are reachable).
func parse(_ pieces: [ArraySlice<UInt8>]) -> Outcome {
  var parser = HTTPRequestParser(maxHeadBytes: 2048, maxHeaders: 20, maxBodyBytes: 4096)
  var outcome = Outcome()
  for piece in pieces {
    for event in parser.feed(piece) {
      switch event {
      case .expectContinue: break
      case .request(let request):
        let headers = request.headers.pairs.map { "\($0.name): \($0.value)" }.joined(separator: "\n")
        outcome.requests.append(
          "\(request.method) \(request.target) \(request.path) \(request.query ?? "-") \(request.version)\n"
            + "\(headers)\n\(request.body)")
      case .error: outcome.failed = true
      }
    }
  }
  return outcome
}

/// HTTP request parser: the payload (after the control byte) is fed in three pieces cut where the control
/// byte says; the requests it yields must be the same as when the payload arrives in one piece.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHTTPRequest(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
  let input = FuzzInput(data, size)
  let split = parse(input.pieces)
  let whole = parse([input.payload[...]])
  if split != whole {
    fatalError("split delivery changed the result:\n\(split)\nvs. in one piece:\n\(whole)")
  }
  return 0
}
