/* The recorder: a stand-in for wbadmin.exe, ntbackup.exe, rsm.exe, schtasks.exe, at.exe, ping.exe …
 * under Wine (tests/wine). Copies of it, named after the real tools, come first on PATH; each run
 * appends what the program received to the file named by %CLPREC_LOG%:
 *
 *   <module path> US <GetCommandLineW()> US <argv[0]> US <argv[1]> ... RS LF      (UTF-8)
 *
 * (US = 0x1F, RS = 0x1E: clpbackup refuses control characters in every value, so they cannot occur
 * in what it sends). argv is CommandLineToArgvW's split, the rule the real tools follow.
 *
 * Then it prints one line to stdout and one to stderr (so `> log 2>&1` has something to keep) --
 * or, when %CLPREC_OUT_<NAME>% names a file, that file's bytes to stdout instead of its line (a
 * canned output: the real `wbadmin get versions` text for a batch file that reads it with for /f;
 * a file it cannot read ends the run with exit code 96) -- sleeps %CLPREC_SLEEP_<NAME>% milliseconds, waits for the file %CLPREC_HOLD% to exist when that is
 * set (to tell "returns at once" from "waits"), and exits with %CLPREC_RC_<NAME>% (0 when unset);
 * <NAME> is the file name without .exe, upper case.
 * Built with: x86_64-w64-mingw32-gcc -municode -O2 -o recorder.exe recorder.c -lshell32
 */
#include <windows.h>
#include <shellapi.h>
#include <stdlib.h>
#include <wchar.h>

static void put_utf8(HANDLE h, const wchar_t *text, int len)
{
    int n = WideCharToMultiByte(CP_UTF8, 0, text, len, NULL, 0, NULL, NULL);
    char *buf = (char *)malloc(n > 0 ? n : 1);
    DWORD done;
    if (n > 0) {
        WideCharToMultiByte(CP_UTF8, 0, text, len, buf, n, NULL, NULL);
        WriteFile(h, buf, (DWORD)n, &done, NULL);
    }
    free(buf);
}

static void put_raw(HANDLE h, const char *bytes)
{
    DWORD done;
    WriteFile(h, bytes, (DWORD)strlen(bytes), &done, NULL);
}

/* %CLPREC_OUT_<NAME>%: copy the named file to stdout; FALSE when it is set but cannot be read */
static BOOL canned_stdout(const wchar_t *name, BOOL *used)
{
    static wchar_t var[300], path[32768];
    static char chunk[65536];
    HANDLE f, out = GetStdHandle(STD_OUTPUT_HANDLE);
    DWORD got, done;
    *used = FALSE;
    if (wcslen(name) + 12 >= 300) return TRUE;
    wcscpy(var, L"CLPREC_OUT_");
    wcscat(var, name);
    if (!GetEnvironmentVariableW(var, path, 32768)) return TRUE;
    *used = TRUE;
    f = CreateFileW(path, GENERIC_READ, FILE_SHARE_READ, NULL, OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, NULL);
    if (f == INVALID_HANDLE_VALUE) return FALSE;
    while (ReadFile(f, chunk, sizeof chunk, &got, NULL) && got > 0) WriteFile(out, chunk, got, &done, NULL);
    CloseHandle(f);
    return TRUE;
}

static DWORD env_number(const wchar_t *prefix, const wchar_t *name, DWORD fallback)
{
    wchar_t var[300], value[64];
    if (wcslen(prefix) + wcslen(name) >= 300) return fallback;
    wcscpy(var, prefix);
    wcscat(var, name);
    if (!GetEnvironmentVariableW(var, value, 64)) return fallback;
    return (DWORD)wcstoul(value, NULL, 10);
}

int wmain(void)
{
    static wchar_t module[32768], log[32768], name[300];
    const wchar_t *line = GetCommandLineW();
    int argc = 0, i;
    wchar_t **argv = CommandLineToArgvW(line, &argc);
    wchar_t *base, *dot;
    HANDLE h;
    BOOL canned;

    GetModuleFileNameW(NULL, module, 32768);
    base = wcsrchr(module, L'\\');
    base = base ? base + 1 : module;
    wcsncpy(name, base, 299);
    name[299] = 0;
    dot = wcsrchr(name, L'.');
    if (dot) *dot = 0;
    CharUpperW(name);

    if (!GetEnvironmentVariableW(L"CLPREC_LOG", log, 32768)) return 97;
    h = CreateFileW(log, FILE_APPEND_DATA, FILE_SHARE_READ | FILE_SHARE_WRITE, NULL, OPEN_ALWAYS,
                    FILE_ATTRIBUTE_NORMAL, NULL);
    if (h == INVALID_HANDLE_VALUE) return 98;
    /* one WriteFile per field; the record is complete when RS LF is there */
    put_utf8(h, module, (int)wcslen(module));
    put_raw(h, "\x1f");
    put_utf8(h, line, (int)wcslen(line));
    for (i = 0; argv && i < argc; i++) {
        put_raw(h, "\x1f");
        put_utf8(h, argv[i], (int)wcslen(argv[i]));
    }
    put_raw(h, "\x1e\n");
    CloseHandle(h);

    if (!canned_stdout(name, &canned)) return 96;
    if (!canned) put_raw(GetStdHandle(STD_OUTPUT_HANDLE), "clpbackup-recorder: out\r\n");
    put_raw(GetStdHandle(STD_ERROR_HANDLE), "clpbackup-recorder: err\r\n");
    Sleep(env_number(L"CLPREC_SLEEP_", name, 0));
    /* %CLPREC_HOLD%: wait until that file exists (at most 60 s); the judge releases the tool once it
     * has seen what it wanted to see while the tool was still running (FO-1: the start fragment
     * has returned while the failover backup it started is still going) */
    if (GetEnvironmentVariableW(L"CLPREC_HOLD", log, 32768)) {
        for (i = 0; i < 1200 && GetFileAttributesW(log) == INVALID_FILE_ATTRIBUTES; i++) Sleep(50);
    }
    return (int)env_number(L"CLPREC_RC_", name, 0);
}
