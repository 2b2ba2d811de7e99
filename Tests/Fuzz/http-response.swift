@testable import RouterRuntime

/// HTTP response parser (upstream client): the payload is fed in three pieces cut where the control byte
/// says, then the peer closes.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHTTPResponse(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
  let input = FuzzInput(data, size)
  var parser = HTTPResponseParser()
  for piece in input.pieces {
    _ = parser.feed(piece)
    _ = parser.isDone
    _ = parser.isAtStart
  }
  _ = parser.endOfStream()
  return 0
}
