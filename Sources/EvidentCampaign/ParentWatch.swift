import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A campaign's `evident verify` runs must not outlive the campaign. SIGINT and SIGTERM stop
/// them (``CampaignRunner/stop()``), but a campaign killed with SIGKILL (by a batch
/// scheduler at its time limit, or by a user) gets no chance to: its children would go on
/// computing, unrecorded, until their own timeouts. So the campaign names itself in each
/// child's environment, and the child exits as soon as its parent is no longer that process.
public enum ParentWatch {
    /// The environment variable holding the process id of the campaign that started a run.
    public static let variable = "EVIDENT_CAMPAIGN_PID"

    /// How often the child looks at its parent.
    static let interval: useconds_t = 250_000

    /// In a process started by a campaign (``variable`` set), exits with status 143 (as for
    /// SIGTERM) once its parent is no longer the campaign, checked four times a second on a
    /// thread of its own; does nothing otherwise.
    public static func start() {
        guard let value = ProcessInfo.processInfo.environment[variable], let campaign = pid_t(value) else { return }
        exitIfOrphaned(campaign)
        Thread.detachNewThread {
            while true {
                usleep(interval)
                exitIfOrphaned(campaign)
            }
        }
    }

    private static func exitIfOrphaned(_ campaign: pid_t) {
        guard getppid() != campaign else { return }
        FileHandle.standardError.write(Data("error: the campaign that started this run (process \(campaign)) has ended; stopping\n".utf8))
        _exit(143)
    }
}
