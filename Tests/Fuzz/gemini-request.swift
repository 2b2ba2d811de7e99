import RouteSpec
import RouterRuntime

/// Gemini request decoder: decodes the whole input as a `generateContent` body and, when it decodes,
/// translates it to an OpenAI chat request (the path every translated call takes).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzGeminiRequest(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
  let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
  guard let request = try? GeminiRequest.decode(body: bytes) else { return 0 }
  for dialect in [OpenAIDialect.openAI, .vllm, .ollama, .generic] {
    for stream in [false, true] {
      if let translated = try? GeminiToOpenAI.translate(request, model: "m", dialect: dialect, stream: stream) {
        _ = translated.bodyBytes
      }
    }
  }
  return 0
}
