/// The CLI's exit codes: a contract scripts and monitoring rely on.
enum ExitStatus: Int32, Error {
    case ok = 0
    /// Anything fatal (the database cannot be used, an unexpected error).
    case fatal = 1
    /// Usage or configuration errors.
    case usage = 2
    /// `run --once`: some eligible images failed and stay `pending_delete` with their error.
    case imagesFailed = 3
    /// `restore`: refused; nothing was changed.
    case restoreRefused = 4
    /// `status`: no live leader (monitoring alerts on it).
    case noLeader = 5
    /// `drain`, `undrain`: the node is not in a state the command applies to; nothing changed.
    case unchanged = 6
}
