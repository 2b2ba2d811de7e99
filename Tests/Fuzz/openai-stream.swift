import RouterRuntime

/// OpenAI stream translator: each line of the payload is one upstream SSE event's `data`, consumed in
/// order, then the stream ends; every Gemini event produced is written as SSE. Bit 0 of the control byte
/// turns on reasoning (thought) forwarding.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOpenAIStream(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
  let input = FuzzInput(data, size)
  let options = GeminiResponseOptions(
    includeThoughts: input.control & 1 == 1, modelVersion: "fuzz-model", responseId: "fuzz-id", backend: "fuzz")
  var translator = OpenAIStreamTranslator(options: options)
  var out: [UInt8] = []
  for line in input.payload.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true) {
    for event in translator.consume(String(decoding: line, as: UTF8.self)) { out += GeminiSSEWriter.event(event) }
  }
  for event in translator.finish() { out += GeminiSSEWriter.event(event) }
  _ = translator.isComplete
  return 0
}
