import RouteSpec

/// TOML parser: parses the whole input as a route file; a document is re-encoded as toml-test tagged JSON,
/// an error is rendered as the human diagnostic (exercising its source spans against the input).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTOML(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
  let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
  var sources = SourceMap()
  let file = sources.add(path: "fuzz.toml", bytes: bytes)
  do {
    let table = try TOMLParser.parse(file)
    _ = TOMLTaggedJSON.encode(table).serializedBytes()
  } catch {
    let renderer = DiagnosticRenderer(sources: sources)
    _ = renderer.human(error.diagnostic)
  }
  return 0
}
