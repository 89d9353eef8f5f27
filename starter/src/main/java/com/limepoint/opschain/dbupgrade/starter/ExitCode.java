package com.limepoint.opschain.dbupgrade.starter;

/**
 * The exit codes of every starter command, in one place: scripts and CI read them.
 *
 * <ul>
 *   <li>{@link #OK} (0): done. {@code start} started the upgrade, {@code plan} returned PLANNED,
 *       {@code approve} and {@code reject} were accepted, {@code abort} sent its signal, {@code
 *       status} and {@code history} printed, {@code watch} saw the upgrade end COMPLETED or
 *       PLANNED, {@code demo} ended COMPLETED; also {@code --help} and {@code --version}.
 *   <li>{@link #NOT_COMPLETED} (1): the upgrade did not complete, or the command could not do its
 *       work. {@code plan} ended other than PLANNED, {@code watch} saw it end ABORTED, CANCELED,
 *       FAILED or SKIPPED or closed otherwise (terminated), {@code demo} ended other than
 *       COMPLETED, the workflow failed; and any error from Temporal: the server cannot be reached,
 *       there is no such upgrade ({@link Starter#failed}, and picocli's own code for an exception
 *       from a command).
 *   <li>{@link #REFUSED} (2): nothing was done, the input was refused. Picocli usage errors
 *       (unknown option, missing {@code --gate}), a request file that cannot be read or fails
 *       validation, a key file that is not a key (all before any call to Temporal), {@code start}
 *       or {@code plan} while an upgrade of that namespace runs, and an {@code approve} or {@code
 *       reject} that the workflow's validator refuses (no such gate open, not an approver).
 * </ul>
 */
public enum ExitCode {
  OK(0),
  NOT_COMPLETED(1),
  REFUSED(2);

  private final int code;

  ExitCode(int code) {
    this.code = code;
  }

  /** The number the process exits with. */
  public int code() {
    return code;
  }
}
