package io.resilientkvm.exporter.schedule;

import io.resilientkvm.engine.lifecycle.LifecycleState;
import io.resilientkvm.exporter.BackupRequest;
import io.resilientkvm.exporter.BackupResult;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.Date;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.quartz.CronScheduleBuilder;
import org.quartz.CronTrigger;
import org.quartz.DisallowConcurrentExecution;
import org.quartz.Job;
import org.quartz.JobBuilder;
import org.quartz.JobDetail;
import org.quartz.JobExecutionContext;
import org.quartz.JobKey;
import org.quartz.Scheduler;
import org.quartz.SchedulerException;
import org.quartz.SimpleScheduleBuilder;
import org.quartz.Trigger;
import org.quartz.TriggerBuilder;
import org.quartz.TriggerKey;
import org.quartz.impl.StdSchedulerFactory;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs one VM's backups on a cron schedule, on its own in-memory Quartz scheduler.
 *
 * <p>Why it is built this way: a backup must never overlap another backup of the same VM (the
 * job class is {@link DisallowConcurrentExecution} and the scheduler has one thread); a backup
 * missed while the process was busy or suspended runs once, not as a burst (misfire policy
 * "fire and proceed"); a failed backup is logged and the scheduler keeps going, the next run
 * retries (an AUTO-level backup continues the chain, nothing is lost). The request is asked for
 * anew at each run so the cluster epoch may change between runs.
 *
 * <p>{@link #close()} stops the schedule and waits a while for the running backup.
 *
 * <p>Quartz fires on the system clock; the schedule's own clock (injected, the system one by
 * default) stamps each {@link Outcome} and is the "now" of {@link #nextFireTime()}, so that the
 * due time is tested at its boundary with a fixed clock.
 */
public final class BackupSchedule implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(BackupSchedule.class);
    private static final AtomicLong COUNTER = new AtomicLong();
    /** How long {@link #close()} waits for a running backup by default. */
    public static final Duration DEFAULT_CLOSE_TIMEOUT = Duration.ofSeconds(30);

    /**
     * One backup run.
     *
     * @param started  when the run began
     * @param finished when it ended
     * @param result   the backup's result; null when it failed
     * @param error    why it failed; null when it succeeded
     */
    public record Outcome(Instant started, Instant finished, BackupResult result, Throwable error) {
        public Outcome {
            Objects.requireNonNull(started, "started");
            Objects.requireNonNull(finished, "finished");
        }

        /** True when the backup succeeded. */
        public boolean succeeded() {
            return error == null;
        }
    }

    private final String cron;
    private final String quartzCron;
    private final Runs runs;
    private final Scheduler scheduler;
    private final JobKey jobKey;
    private final TriggerKey triggerKey;
    private final InstantSource clock;

    /** A schedule running {@link BackupRunner#EXPORTER}. */
    public BackupSchedule(String cron, Supplier<BackupRequest> requests) {
        this(cron, requests, BackupRunner.EXPORTER, null, DEFAULT_CLOSE_TIMEOUT);
    }

    /** A schedule running the given runner. */
    public BackupSchedule(String cron, Supplier<BackupRequest> requests, BackupRunner runner) {
        this(cron, requests, runner, null, DEFAULT_CLOSE_TIMEOUT);
    }

    /**
     * Starts the schedule.
     *
     * @param cron         unix 5-field cron, e.g. {@link CronExpressions#HOURLY}
     * @param requests     asked for the request at each run
     * @param runner       runs one backup
     * @param listener     told each run's outcome (may be null; more with {@link #addListener})
     * @param closeTimeout how long {@link #close()} waits for a running backup
     * @throws IllegalArgumentException when the cron expression is invalid
     * @throws IllegalStateException    when Quartz cannot start
     */
    public BackupSchedule(String cron, Supplier<BackupRequest> requests, BackupRunner runner,
            Consumer<Outcome> listener, Duration closeTimeout) {
        this(cron, requests, runner, listener, closeTimeout, Clock.systemUTC());
    }

    /** As {@link #BackupSchedule(String, Supplier, BackupRunner, Consumer, Duration)}, on the caller's clock. */
    public BackupSchedule(String cron, Supplier<BackupRequest> requests, BackupRunner runner,
            Consumer<Outcome> listener, Duration closeTimeout, InstantSource clock) {
        this.cron = Objects.requireNonNull(cron, "cron");
        this.quartzCron = CronExpressions.toQuartz(cron);
        this.clock = Objects.requireNonNull(clock, "clock");
        this.runs = new Runs(Objects.requireNonNull(requests, "requests"), Objects.requireNonNull(runner, "runner"),
                Objects.requireNonNull(closeTimeout, "closeTimeout"), clock);
        if (listener != null) {
            runs.listeners.add(listener);
        }
        String name = "resilient-kvm-backup-" + COUNTER.incrementAndGet() + "-" + UUID.randomUUID();
        Properties p = new Properties();
        p.setProperty(StdSchedulerFactory.PROP_SCHED_INSTANCE_NAME, name);
        p.setProperty(StdSchedulerFactory.PROP_SCHED_INSTANCE_ID, name);
        p.setProperty("org.quartz.scheduler.skipUpdateCheck", "true");
        p.setProperty(StdSchedulerFactory.PROP_THREAD_POOL_CLASS, "org.quartz.simpl.SimpleThreadPool");
        p.setProperty("org.quartz.threadPool.threadCount", "1");
        p.setProperty("org.quartz.threadPool.threadNamePrefix", name + "-worker");
        p.setProperty(StdSchedulerFactory.PROP_JOB_STORE_CLASS, "org.quartz.simpl.RAMJobStore");
        p.setProperty("org.quartz.scheduler.makeSchedulerThreadDaemon", "true");
        p.setProperty("org.quartz.threadPool.makeThreadsDaemons", "true");
        this.jobKey = JobKey.jobKey("backup", name);
        this.triggerKey = TriggerKey.triggerKey("cron", name);
        Scheduler s = null;
        try {
            s = new StdSchedulerFactory(p).getScheduler();
            Runs r = runs;
            s.setJobFactory((bundle, sched) -> new BackupJob(r));
            JobDetail job = JobBuilder.newJob(BackupJob.class).withIdentity(jobKey).storeDurably().build();
            Trigger trigger = TriggerBuilder.newTrigger().withIdentity(triggerKey).forJob(jobKey)
                    .withSchedule(CronScheduleBuilder.cronSchedule(quartzCron)
                            .withMisfireHandlingInstructionFireAndProceed())
                    .build();
            s.scheduleJob(job, trigger);
            s.start();
            runs.state.markStarted();
        } catch (SchedulerException | RuntimeException e) {
            if (s != null) {
                try {
                    s.shutdown(false);
                } catch (SchedulerException suppressed) {
                    e.addSuppressed(suppressed);
                }
            }
            throw new IllegalStateException("cannot start the backup schedule '" + cron + "': " + e.getMessage(), e);
        }
        this.scheduler = s;
        LOG.info("backup schedule '{}' (Quartz '{}') started, next run at {}", cron, quartzCron,
                nextFireTime().map(Instant::toString).orElse("never"));
    }

    /** The unix cron expression this schedule was given. */
    public String cron() {
        return cron;
    }

    /** The Quartz expression it runs on. */
    public String quartzCron() {
        return quartzCron;
    }

    /** Adds a listener told each run's outcome; a listener's exception is logged and ignored. */
    public void addListener(Consumer<Outcome> listener) {
        runs.listeners.add(Objects.requireNonNull(listener, "listener"));
    }

    /**
     * Runs a backup now, besides the schedule. It waits for a running backup to finish first:
     * backups of a VM never overlap.
     *
     * @throws IllegalStateException when the schedule is closed
     */
    public void runNow() {
        try {
            synchronized (runs.lock) {
                if (runs.state.isClosed()) {
                    throw new IllegalStateException("the backup schedule is closed");
                }
                scheduler.scheduleJob(TriggerBuilder.newTrigger().forJob(jobKey).startNow()
                        .withSchedule(SimpleScheduleBuilder.simpleSchedule()
                                .withMisfireHandlingInstructionFireNow())
                        .build());
            }
        } catch (SchedulerException e) {
            throw new IllegalStateException("cannot start a backup now: " + e.getMessage(), e);
        }
    }

    /** The last run's outcome, if any run finished. */
    public Optional<Outcome> lastOutcome() {
        return Optional.ofNullable(runs.last);
    }

    /** When the schedule runs next: its first time after the clock's now; empty when closed or never again. */
    public Optional<Instant> nextFireTime() {
        try {
            if (runs.state.isClosed()) {
                return Optional.empty();
            }
            Trigger t = scheduler.getTrigger(triggerKey);
            Date next = t instanceof CronTrigger cronTrigger ? cronTrigger.getFireTimeAfter(Date.from(clock.instant())) : null;
            return Optional.ofNullable(next).map(Date::toInstant);
        } catch (SchedulerException e) {
            return Optional.empty();
        }
    }

    /** True once {@link #close()} was called. */
    public boolean isClosed() {
        return runs.state.isClosed();
    }

    /**
     * Stops the schedule: no new run starts; a running backup gets the close timeout to finish,
     * then its thread is interrupted. Calling it again does nothing.
     */
    @Override
    public void close() {
        synchronized (runs.lock) {
            if (!runs.state.markClosed()) {
                return;
            }
        }
        try {
            scheduler.shutdown(false);
        } catch (SchedulerException e) {
            LOG.warn("stopping the backup scheduler: {}", e.getMessage());
        }
        long deadline = System.nanoTime() + runs.closeTimeout.toNanos();
        synchronized (runs.lock) {
            boolean interrupted = false;
            while (runs.running != null) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    LOG.warn("backup still running {} after close; interrupting it", runs.closeTimeout);
                    runs.running.interrupt();
                    break;
                }
                try {
                    runs.lock.wait(Math.max(1, left / 1_000_000));
                } catch (InterruptedException e) {
                    interrupted = true;
                    break;
                }
            }
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
        LOG.info("backup schedule '{}' stopped", cron);
    }

    /** The shared state of the schedule and its job, kept apart so the job holds no schedule. */
    private static final class Runs {
        final Supplier<BackupRequest> requests;
        final BackupRunner runner;
        final Duration closeTimeout;
        final InstantSource clock;
        final List<Consumer<Outcome>> listeners = new CopyOnWriteArrayList<>();
        final Object lock = new Object();
        /** Guarded by lock. */
        Thread running;
        /** LATENT until Quartz runs, STARTED, CLOSED once {@link BackupSchedule#close()} began. */
        final LifecycleState state = new LifecycleState("backup schedule");
        volatile Outcome last;

        Runs(Supplier<BackupRequest> requests, BackupRunner runner, Duration closeTimeout, InstantSource clock) {
            this.requests = requests;
            this.runner = runner;
            this.closeTimeout = closeTimeout;
            this.clock = clock;
        }

        void runOnce() {
            synchronized (lock) {
                if (state.isClosed()) {
                    return;
                }
                running = Thread.currentThread();
            }
            try {
                Outcome outcome = backUp();
                last = outcome;
                for (Consumer<Outcome> l : listeners) {
                    try {
                        l.accept(outcome);
                    } catch (RuntimeException e) {
                        LOG.warn("backup outcome listener failed: {}", e.getMessage(), e);
                    }
                }
            } finally {
                synchronized (lock) {
                    running = null;
                    lock.notifyAll();
                }
            }
        }

        private Outcome backUp() {
            Instant started = clock.instant();
            try {
                BackupResult result = runner.run(requests.get());
                Outcome outcome = new Outcome(started, clock.instant(), result, null);
                LOG.info("scheduled backup done in {}", Duration.between(started, outcome.finished()));
                return outcome;
            } catch (Exception | LinkageError | AssertionError e) {
                if (e instanceof InterruptedException) {
                    Thread.currentThread().interrupt();
                }
                LOG.warn("scheduled backup failed, the next run retries: {}", e.getMessage(), e);
                return new Outcome(started, clock.instant(), null, e);
            }
        }
    }

    /** The Quartz job: one per VM, never two at once. */
    @DisallowConcurrentExecution
    static final class BackupJob implements Job {
        private final Runs runs;

        BackupJob(Runs runs) {
            this.runs = runs;
        }

        @Override
        public void execute(JobExecutionContext context) {
            runs.runOnce();
        }
    }
}
