//! The command line on temporary trees: mirrored output, in-place rewriting (content,
//! permissions, an untouched original after a full disk), --check and --diff, ignore rules,
//! hidden files, globs, binary files, symlink loops, unreadable files and directories, an output
//! directory inside the input tree, input equal to output, filename conversion with a collision.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// A fresh directory for one test.
fn tree(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("fanjian-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // Readable by everyone: one test runs the binary as an unprivileged user.
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

fn write(path: &Path, content: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, content).unwrap();
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn read_bytes(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn fanjian(dir: &Path, args: &[&str]) -> Output {
    Command::new(common::bin())
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A small tree: text files in two levels, an ignored one, a hidden one, a binary one.
fn sample(dir: &Path) {
    write(&dir.join("in/a.txt"), "头发\n".as_bytes());
    write(&dir.join("in/sub/b.md"), "鼠标和内存\r\n".as_bytes());
    write(&dir.join("in/sub/same.txt"), "繁體字".as_bytes());
    write(&dir.join("in/sub/ignored.txt"), "头发".as_bytes());
    write(&dir.join("in/.gitignore"), b"sub/ignored.txt\n");
    write(&dir.join("in/.hidden/h.txt"), "头发".as_bytes());
    write(&dir.join("in/img.bin"), b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR");
}

#[test]
fn mirrored_output_tree() {
    let dir = tree("mirror");
    sample(&dir);
    let o = fanjian(&dir, &["-c", "s2twp", "--output-dir", "out", "in"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(read(&dir.join("out/a.txt")), "頭髮\n");
    assert_eq!(read(&dir.join("out/sub/b.md")), "滑鼠和記憶體\r\n");
    assert_eq!(read(&dir.join("out/sub/same.txt")), "繁體字");
    // Ignored, hidden and binary files are not converted; the binary one is reported.
    for skipped in ["out/sub/ignored.txt", "out/.hidden/h.txt", "out/img.bin"] {
        assert!(!dir.join(skipped).exists(), "{skipped}");
    }
    let err = stderr(&o);
    assert!(err.contains("in/img.bin: binary file"), "{err}");
    assert!(
        err.contains("3 converted") || err.contains("2 converted, 1 unchanged"),
        "{err}"
    );
    // --hidden and --no-ignore bring them in.
    let o = fanjian(
        &dir,
        &[
            "-c",
            "s2t",
            "--hidden",
            "--no-ignore",
            "--output-dir",
            "all",
            "in",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(read(&dir.join("all/sub/ignored.txt")), "頭髮");
    assert_eq!(read(&dir.join("all/.hidden/h.txt")), "頭髮");
}

#[test]
fn output_dir_inside_the_input_is_not_walked() {
    let dir = tree("inside");
    sample(&dir);
    for round in 0..2 {
        let o = fanjian(&dir, &["-c", "s2t", "--output-dir", "in/out", "in"]);
        assert_eq!(o.status.code(), Some(0), "round {round}: {}", stderr(&o));
    }
    assert_eq!(read(&dir.join("in/out/a.txt")), "頭髮\n");
    assert!(!dir.join("in/out/out").exists());
    let o = fanjian(&dir, &["-c", "s2t", "--output-dir", "in", "in"]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "output dir equal to the input is a usage error"
    );
}

#[test]
fn globs_and_excludes() {
    let dir = tree("globs");
    sample(&dir);
    let o = fanjian(
        &dir,
        &["-c", "s2t", "-g", "*.md", "--output-dir", "md", "in"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(dir.join("md/sub/b.md").exists() && !dir.join("md/a.txt").exists());
    let o = fanjian(
        &dir,
        &[
            "-c",
            "s2t",
            "--exclude",
            "sub",
            "--output-dir",
            "nosub",
            "in",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(dir.join("nosub/a.txt").exists() && !dir.join("nosub/sub").exists());
}

#[test]
fn in_place_keeps_permissions_and_backup_and_skips_unchanged() {
    let dir = tree("inplace");
    sample(&dir);
    let a = dir.join("in/a.txt");
    std::fs::set_permissions(&a, std::fs::Permissions::from_mode(0o640)).unwrap();
    let same = dir.join("in/sub/same.txt");
    let before = std::fs::metadata(&same).unwrap().modified().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    let o = fanjian(
        &dir,
        &["-c", "s2t", "--in-place", "--backup", ".orig", "in"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(read(&a), "頭髮\n");
    assert_eq!(read(&dir.join("in/a.txt.orig")), "头发\n");
    assert_eq!(
        std::fs::metadata(&a).unwrap().permissions().mode() & 0o777,
        0o640
    );
    // An unchanged file is not rewritten.
    assert_eq!(
        std::fs::metadata(&same).unwrap().modified().unwrap(),
        before
    );
    assert!(!dir.join("in/sub/same.txt.orig").exists());
    assert!(stderr(&o).contains("unchanged"), "{}", stderr(&o));
}

#[test]
fn in_place_on_a_full_disk_leaves_the_original() {
    let dir = tree("fulldisk");
    let mnt = dir.join("mnt");
    std::fs::create_dir_all(&mnt).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=64k", "tmpfs"])
        .arg(&mnt)
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        // Mounting needs root; CI runs as root, so this is only skipped on a developer's box.
        eprintln!("skipped: cannot mount a tmpfs here (not root)");
        return;
    }
    let original = "头发".repeat(6000); // 36 KB: the converted copy does not fit beside it
    let file = mnt.join("big.txt");
    std::fs::write(&file, &original).unwrap();
    let o = fanjian(&dir, &["-c", "s2t", "--in-place", file.to_str().unwrap()]);
    let listing: Vec<String> = std::fs::read_dir(&mnt)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    let content = std::fs::read_to_string(&file);
    let _ = Command::new("umount").arg(&mnt).status();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("No space left on device"),
        "{}",
        stderr(&o)
    );
    assert_eq!(content.unwrap(), original, "the original is untouched");
    assert_eq!(listing, ["big.txt"], "no temporary file is left behind");
}

#[test]
fn check_and_diff() {
    let dir = tree("check");
    sample(&dir);
    let o = fanjian(&dir, &["-c", "s2t", "--check", "in"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stdout(&o), "in/a.txt\nin/sub/b.md\n");
    let o = fanjian(&dir, &["-c", "s2t", "--diff", "in/a.txt"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stdout(&o),
        "--- a/in/a.txt\n+++ b/in/a.txt\n@@ -1,1 +1,1 @@\n-头发\n+頭髮\n"
    );
    // The diff shows text whatever the output encoding.
    let o = fanjian(
        &dir,
        &["-c", "s2t", "--diff", "--to-encoding", "gbk", "in/a.txt"],
    );
    assert_eq!(
        stdout(&o),
        "--- a/in/a.txt\n+++ b/in/a.txt\n@@ -1,1 +1,1 @@\n-头发\n+頭髮\n"
    );
    let o = fanjian(&dir, &["-c", "s2t", "--check", "in/sub/same.txt"]);
    assert_eq!((o.status.code(), stdout(&o).as_str()), (Some(0), ""));
    // Nothing was written.
    assert_eq!(read(&dir.join("in/a.txt")), "头发\n");
    let o = fanjian(&dir, &["-c", "s2t", "--check", "--json", "in"]);
    let json = stdout(&o);
    assert!(
        json.contains("\"path\":\"in/a.txt\",\"status\":\"would-change\""),
        "{json}"
    );
    assert!(json.contains("\"would_change\":2"), "{json}");
}

#[test]
fn binary_files_named_explicitly_are_errors() {
    let dir = tree("binary");
    sample(&dir);
    let o = fanjian(&dir, &["-c", "s2t", "--check", "in/img.bin", "in/a.txt"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("in/img.bin: binary file"),
        "{}",
        stderr(&o)
    );
    assert_eq!(stdout(&o), "in/a.txt\n", "the rest is still done");
}

#[test]
fn symlink_loop_does_not_hang() {
    let dir = tree("loop");
    sample(&dir);
    std::os::unix::fs::symlink("..", dir.join("in/sub/up")).unwrap();
    let o = fanjian(&dir, &["-c", "s2t", "-L", "--output-dir", "out", "in"]);
    assert!(stderr(&o).contains("loop"), "{}", stderr(&o));
    assert_eq!(read(&dir.join("out/a.txt")), "頭髮\n");
    // Without -L the link is not followed at all.
    let o = fanjian(&dir, &["-c", "s2t", "--check", "in"]);
    assert!(!stderr(&o).contains("loop"), "{}", stderr(&o));
}

#[test]
fn unreadable_file_and_directory_the_rest_still_converted() {
    let dir = tree("unreadable");
    sample(&dir);
    write(&dir.join("in/secret.txt"), "头发".as_bytes());
    write(&dir.join("in/locked/x.txt"), "头发".as_bytes());
    std::fs::set_permissions(
        dir.join("in/secret.txt"),
        std::fs::Permissions::from_mode(0o000),
    )
    .unwrap();
    std::fs::set_permissions(
        dir.join("in/locked"),
        std::fs::Permissions::from_mode(0o000),
    )
    .unwrap();
    let out = dir.join("out");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o777)).unwrap();
    // Root reads everything: run as an unprivileged user where we are root.
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| stdout(&o).trim() == "0")
        .unwrap_or(false);
    let mut cmd = if root {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(common::bin());
        c
    } else {
        Command::new(common::bin())
    };
    let o = cmd
        .current_dir(&dir)
        .args(["-c", "s2t", "--output-dir", "out", "in"])
        .output()
        .unwrap();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("secret.txt: Permission denied"), "{err}");
    assert!(
        err.contains("locked") && err.contains("Permission denied"),
        "{err}"
    );
    assert_eq!(read(&dir.join("out/a.txt")), "頭髮\n");
    assert_eq!(read(&dir.join("out/sub/b.md")), "鼠標和內存\r\n");
}

#[test]
fn input_equal_to_output() {
    let dir = tree("same");
    write(&dir.join("f.txt"), "头发\n".as_bytes());
    let o = fanjian(&dir, &["-c", "s2t", "-i", "f.txt", "-o", "f.txt"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(read(&dir.join("f.txt")), "頭髮\n");
}

#[test]
fn filename_conversion_with_a_collision() {
    let dir = tree("names");
    write(&dir.join("in/头发/发型.txt"), "头发".as_bytes());
    write(&dir.join("in/发.txt"), "一".as_bytes());
    write(&dir.join("in/發.txt"), "二".as_bytes());
    let o = fanjian(
        &dir,
        &["-c", "s2t", "--convert-filenames", "--in-place", "in"],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("not renamed: in/發.txt exists"),
        "{}",
        stderr(&o)
    );
    assert_eq!(read(&dir.join("in/頭髮/髮型.txt")), "頭髮");
    // Neither file of the collision was lost.
    assert_eq!(read(&dir.join("in/发.txt")), "一");
    assert_eq!(read(&dir.join("in/發.txt")), "二");
}

#[test]
fn several_files_to_stdout_in_order_and_stdin() {
    let dir = tree("stdout");
    write(&dir.join("1.txt"), "头\n".as_bytes());
    write(&dir.join("2.txt"), "发\n".as_bytes());
    let o = fanjian(&dir, &["-c", "s2t", "2.txt", "1.txt"]);
    assert_eq!(stdout(&o), "發\n頭\n");
    assert_eq!(
        common::run_bin(&["-c", "s2t", "-"], "头发".as_bytes()).stdout,
        "頭髮".as_bytes()
    );
}

#[test]
fn large_and_small_inputs_the_same_with_any_number_of_threads() {
    // A file of 512 KiB or more is converted in slots on several threads (in a tree, one of
    // 8 MB or more), a smaller one on one; standard input from a pipe, whose length is not
    // known, on several. The big one (9.3 MB) converted in place has a flush to disk started
    // while it is written (every 8 MiB); written with -o to a new file, it has none.
    let dir = tree("threads");
    let text = std::fs::read("tests/data/zuozhuan.txt").unwrap();
    write(&dir.join("big.txt"), &text.repeat(5));
    write(&dir.join("mid.txt"), &text);
    let line_end = text[..100_000].iter().rposition(|&b| b == b'\n').unwrap();
    write(&dir.join("small.txt"), &text[..line_end + 1]);
    std::fs::create_dir_all(dir.join("in")).unwrap();
    let mut ones = vec![];
    for file in ["big.txt", "mid.txt", "small.txt"] {
        let one = fanjian(&dir, &["-j1", "-c", "s2twp", file]);
        assert!(one.status.success(), "{}", stderr(&one));
        std::fs::copy(dir.join(file), dir.join("in").join(file)).unwrap();
        let three = fanjian(&dir, &["-j3", "-c", "s2twp", file, "-o", "three.txt"]);
        assert!(three.status.success(), "{}", stderr(&three));
        assert!(read_bytes(&dir.join("three.txt")) == one.stdout, "{file}");
        let piped = common::run_bin_in(
            &dir,
            &["-j3", "-c", "s2twp", "-"],
            &read_bytes(&dir.join(file)),
        );
        assert!(piped.status.success(), "{}", stderr(&piped));
        assert!(piped.stdout == one.stdout, "{file} from standard input");
        ones.push((file, one.stdout));
    }
    // A tree, mirrored and in place: the big file on three threads too.
    let o = fanjian(&dir, &["-j3", "-c", "s2twp", "--output-dir", "out", "in"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = fanjian(&dir, &["-j3", "-c", "s2twp", "--in-place", "in"]);
    assert!(o.status.success(), "{}", stderr(&o));
    for (file, one) in &ones {
        for converted in [dir.join("out").join(file), dir.join("in").join(file)] {
            assert!(std::fs::read(&converted).unwrap() == *one, "{converted:?}");
        }
    }
}

#[test]
fn closed_stdout_pipe_exits_quietly() {
    let dir = tree("pipe");
    write(
        &dir.join("big.txt"),
        "头发很长。\n".repeat(400_000).as_bytes(),
    );
    let mut child = Command::new(common::bin())
        .current_dir(&dir)
        .args(["-c", "s2t", "big.txt"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(stderr(&o), "");
}

#[test]
fn to_picks_the_config_by_script() {
    let dir = tree("to");
    write(&dir.join("s.txt"), "鼠标和软件".as_bytes());
    write(&dir.join("t.txt"), "滑鼠和軟體，記憶體".as_bytes());
    let o = fanjian(&dir, &["--to", "cn", "s.txt", "t.txt"]);
    assert_eq!(stdout(&o), "鼠标和软件滑鼠和软体，记忆体");
    let o = fanjian(&dir, &["--to", "tw", "s.txt", "t.txt"]);
    assert_eq!(stdout(&o), "滑鼠和軟體滑鼠和軟體，記憶體");
    let o = fanjian(&dir, &["detect", "s.txt", "t.txt"]);
    let report = stdout(&o);
    assert!(
        report.contains("s.txt\tUTF-8\tsimplified") && report.contains("t.txt\tUTF-8\ttraditional"),
        "{report}"
    );
}

#[test]
fn usage_errors_exit_2_and_help_reads_well() {
    let dir = tree("usage");
    for args in [
        &["--in-place"][..],
        &["-c", "nope"],
        &["--check", "--in-place", "x"],
        &["--frobnicate"],
    ] {
        let o = fanjian(&dir, args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
    }
    let help = stdout(&fanjian(&dir, &["--help"]));
    for needle in [
        "Examples:",
        "--in-place",
        "--output-dir",
        "--check",
        "--to <FORM>",
        "Exit status",
    ] {
        assert!(help.contains(needle), "{needle}");
    }
    let man = stdout(&fanjian(&dir, &["--generate", "man"]));
    assert!(man.contains(".TH fanjian"), "{man}");
    let bash = stdout(&fanjian(&dir, &["--generate", "bash"]));
    assert!(bash.contains("_fanjian()"), "{bash}");
}

#[test]
fn a_named_pipe_or_standard_input_given_by_name_is_read_in_order() {
    // Only a regular file is read at offsets: a named pipe, or /dev/stdin, named on the
    // command line is read in order (on one thread or several), with the same bytes.
    let dir = tree("fifo");
    let text = std::fs::read("tests/data/zuozhuan.txt").unwrap();
    write(&dir.join("book.txt"), &text);
    let one = fanjian(&dir, &["-j1", "-c", "s2t", "book.txt"]);
    assert!(one.status.success(), "{}", stderr(&one));
    let fifo = dir.join("pipe");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    for threads in ["-j1", "-j2"] {
        let writer = {
            let (fifo, text) = (fifo.clone(), text.clone());
            std::thread::spawn(move || std::fs::write(fifo, text).unwrap())
        };
        let piped = fanjian(&dir, &[threads, "-c", "s2t", "pipe"]);
        writer.join().unwrap();
        assert!(piped.status.success(), "{}", stderr(&piped));
        assert!(piped.stdout == one.stdout, "a named pipe, {threads}");
        let stdin = common::run_bin_in(&dir, &[threads, "-c", "s2t", "/dev/stdin"], &text);
        assert!(stdin.status.success(), "{}", stderr(&stdin));
        assert!(stdin.stdout == one.stdout, "/dev/stdin, {threads}");
    }
}

#[test]
fn standard_input_from_a_regular_file_is_read_at_offsets_from_where_it_stands() {
    // `fanjian < file` reads the file at offsets too (with threads, each its own slot), from
    // where standard input stands (a shell may have read some of it before), and leaves it at
    // the end, as reading in order does.
    use std::io::{Read, Seek};
    let dir = tree("stdin-file");
    let text = std::fs::read("tests/data/zuozhuan.txt").unwrap();
    let first_line = text.iter().position(|&b| b == b'\n').unwrap() + 1;
    write(&dir.join("book.txt"), &text);
    write(&dir.join("rest.txt"), &text[first_line..]);
    let one = fanjian(&dir, &["-j1", "-c", "s2t", "rest.txt"]);
    assert!(one.status.success(), "{}", stderr(&one));
    for threads in ["-j1", "-j2"] {
        let mut file = std::fs::File::open(dir.join("book.txt")).unwrap();
        file.read_exact(&mut vec![0; first_line]).unwrap();
        let shared = file.try_clone().unwrap();
        let o = Command::new(common::bin())
            .current_dir(&dir)
            .args([threads, "-c", "s2t"])
            .stdin(file)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(o.stdout == one.stdout, "{threads}");
        let mut shared = shared;
        assert_eq!(shared.stream_position().unwrap(), text.len() as u64);
    }
}
