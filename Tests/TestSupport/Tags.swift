import Testing

extension Tag {
    /// The suite spawns processes (the `scrubber` binary, PostgreSQL's programs, `ip netns`):
    /// `./test` runs these suites after the in-process ones, with few tests at once.
    @Tag public static var spawnsProcesses: Self
    /// The suite starts a server of its own (PostgreSQL, or a lease service on loopback).
    @Tag public static var startsServers: Self
}
