// swift-tools-version: 6.2
import PackageDescription

// Every Swift target gets the same upcoming features, so that modules agree
// on how existentials and imports are spelled, and on where a nonisolated async
// function runs: on its caller's executor (NonisolatedNonsendingByDefault), so
// a request's calls stay on its reactor without a task switch at each one (36 →
// 15 switches and 3 % fewer instructions per translated request). Modules built
// with and without it must not call each other's async functions: all or none.
let swiftSettings: [SwiftSetting] = [
  .enableUpcomingFeature("ExistentialAny"),
  .enableUpcomingFeature("MemberImportVisibility"),
  .enableUpcomingFeature("NonisolatedNonsendingByDefault"),
]

// https backends run on URLSession in the LouterHTTPS library, which `louter` loads at the first https
// request (see Sources/LouterHTTPS). scripts/release sets LOUTER_HTTPS_BUILT_IN=1 to link it into its one
// static binary instead, where there is no shared Foundation to load later.
let httpsBuiltIn = Context.environment["LOUTER_HTTPS_BUILT_IN"] == "1"

let package = Package(
  name: "louter",
  products: [
    .executable(name: "louter", targets: ["louter"]),
    .executable(name: "louter-bench", targets: ["louter-bench"]),
    // URLSession for https backends, loaded by louter with dlopen at the first https request (see
    // CLouterSystem.h): a process that calls no https backend maps no Foundation, libcurl or TLS library.
    .library(name: "LouterHTTPS", type: .dynamic, targets: ["LouterHTTPS"]),
  ],
  targets: [
    .target(name: "CLouterSystem"),
    .target(name: "LouterHTTPS", dependencies: ["CLouterSystem"], swiftSettings: swiftSettings),
    .target(name: "RouteSpec", swiftSettings: swiftSettings, linkerSettings: [.linkedLibrary("m")]),
    .target(name: "RouteCompiler", dependencies: ["RouteSpec"], swiftSettings: swiftSettings),
    .target(
      name: "RouterRuntime",
      dependencies: ["RouteSpec", "RouteCompiler", "CLouterSystem"],
      swiftSettings: swiftSettings
    ),
    .executableTarget(
      name: "louter",
      dependencies: ["RouteSpec", "RouteCompiler", "RouterRuntime"] + (httpsBuiltIn ? ["LouterHTTPS"] : []),
      swiftSettings: swiftSettings
    ),
    .executableTarget(
      name: "louter-bench",
      dependencies: ["RouteSpec", "RouteCompiler", "RouterRuntime"],
      swiftSettings: swiftSettings
    ),
    .testTarget(name: "RouteSpecTests", dependencies: ["RouteSpec"], swiftSettings: swiftSettings),
    .testTarget(
      name: "RouteCompilerTests",
      dependencies: ["RouteSpec", "RouteCompiler"],
      exclude: ["Snapshots"],
      swiftSettings: swiftSettings
    ),
    .testTarget(name: "LouterCLITests", dependencies: ["louter"], exclude: ["Fixtures"], swiftSettings: swiftSettings),
    .testTarget(
      name: "RouterRuntimeTests",
      dependencies: ["RouteSpec", "RouteCompiler", "RouterRuntime"],
      swiftSettings: swiftSettings
    ),
  ]
)
