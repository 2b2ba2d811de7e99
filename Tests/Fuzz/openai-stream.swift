@testable import RouterRuntime

/// OpenAI stream translator: each line of the payload is one upstream SSE event's `data`, consumed in
/// order, then the stream ends; every Gemini event produced is written as SSE, and must be what a translator
/// reading every chunk's tree produces. Bit 0 of the control byte turns on reasoning (thought) forwarding.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOpenAIStream(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
  let input = FuzzInput(data, size)
  let options = GeminiResponseOptions(
    includeThoughts: input.control & 1 == 1, modelVersion: "fuzz-model", responseId: "fuzz-id", backend: "fuzz")
  var translator = OpenAIStreamTranslator(options: options)
  // The same stream read through every chunk's tree: a common chunk read from its text must translate the same.
  var viaTree = OpenAIStreamTranslator(options: options)
  viaTree.readsChunkBytes = false
  var out: [UInt8] = []
  for line in input.payload.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true) {
    let data = String(decoding: line, as: UTF8.self)
    let outputs = translator.translate(data)
    if outputs != viaTree.translate(data) { fatalError("a chunk translates differently read from its text: \(data)") }
    for output in outputs { out += GeminiSSEWriter.event(output.event) }
  }
  let last = translator.finish()
  if last != viaTree.finish() { fatalError("the stream ends differently read from its text") }
  for event in last { out += GeminiSSEWriter.event(event) }
  _ = translator.isComplete
  return 0
}
