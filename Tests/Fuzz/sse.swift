import RouterRuntime

/// SSE parser: the payload is fed in three pieces cut where the control byte says, then finished; an
/// event-size limit from the control byte makes the oversized-event path reachable.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSSE(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
  let input = FuzzInput(data, size)
  var parser = SSEParser(maxEventBytes: input.control & 1 == 0 ? 64 << 20 : 64)
  var events: [SSEEvent] = []
  for piece in input.pieces { events += parser.feed(piece) }
  events += parser.finish()
  _ = parser.droppedOversizedEvent
  _ = events.map(\.data)
  return 0
}
