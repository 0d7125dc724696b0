/* The launcher: CreateProcessW of raw command lines under Wine (tests/wine), the way Task Scheduler,
 * AT and WinRS start a program: no shell of its own, the command line exactly as given.
 *
 *   launcher.exe <script> <results>
 *
 * <script> is UTF-8, one instruction per line (LF or CRLF):
 *   E NAME=VALUE   set an environment variable for the runs that follow (E NAME= removes it)
 *   D <folder>     the working folder of the runs that follow
 *   T <ms>         how long a run may take before it is reported as a timeout (default 60000)
 *   R <line>       CreateProcessW(NULL, <line>, ...), wait, and append to <results>:
 *                  "<exit code> <milliseconds>" or "ERR <GetLastError()> 0" or "TIMEOUT <ms>"
 * Wine's CreateProcessW sometimes fails with error 1359 under load (not seen on Windows): such a run
 * is retried once and its result line then ends with " retried".
 * Built with: x86_64-w64-mingw32-gcc -municode -O2 -o launcher.exe launcher.c
 */
#include <windows.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

static wchar_t *widen(const char *text)
{
    int n = MultiByteToWideChar(CP_UTF8, 0, text, -1, NULL, 0);
    wchar_t *out = (wchar_t *)malloc(sizeof(wchar_t) * (n > 0 ? n : 1));
    if (n > 0) MultiByteToWideChar(CP_UTF8, 0, text, -1, out, n); else out[0] = 0;
    return out;
}

static BOOL start(wchar_t *line, const wchar_t *cwd, PROCESS_INFORMATION *pi)
{
    STARTUPINFOW si;
    memset(&si, 0, sizeof si);
    si.cb = sizeof si;
    return CreateProcessW(NULL, line, NULL, NULL, FALSE, 0, NULL, cwd[0] ? cwd : NULL, &si, pi);
}

int wmain(int argc, wchar_t **argv)
{
    static char buf[65536];
    static wchar_t cwd[32768];
    DWORD limit = 60000;
    FILE *in, *out;
    if (argc != 3) return 2;
    in = _wfopen(argv[1], L"rb");
    out = _wfopen(argv[2], L"ab");
    if (!in || !out) return 3;
    cwd[0] = 0;
    while (fgets(buf, sizeof buf, in)) {
        size_t n = strlen(buf);
        while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) buf[--n] = 0;
        if (n < 2) continue;
        if (buf[0] == 'E') {
            wchar_t *kv = widen(buf + 2), *eq = wcschr(kv, L'=');
            if (eq) {
                *eq = 0;
                SetEnvironmentVariableW(kv, eq[1] ? eq + 1 : NULL);
            }
            free(kv);
        } else if (buf[0] == 'D') {
            wchar_t *d = widen(buf + 2);
            wcsncpy(cwd, d, 32767);
            free(d);
        } else if (buf[0] == 'T') {
            limit = (DWORD)strtoul(buf + 2, NULL, 10);
        } else if (buf[0] == 'R') {
            PROCESS_INFORMATION pi;
            wchar_t *line = widen(buf + 2);
            DWORD t0 = GetTickCount(), rc = 0, err;
            BOOL ok = start(line, cwd, &pi), retried = FALSE;
            if (!ok && GetLastError() == 1359) {
                free(line);
                line = widen(buf + 2);  /* CreateProcessW may write into its buffer */
                Sleep(200);
                ok = start(line, cwd, &pi);
                retried = TRUE;
            }
            err = GetLastError();
            if (!ok) {
                fprintf(out, "ERR %lu 0%s\n", (unsigned long)err, retried ? " retried" : "");
            } else if (WaitForSingleObject(pi.hProcess, limit) != WAIT_OBJECT_0) {
                TerminateProcess(pi.hProcess, 1);
                fprintf(out, "TIMEOUT %lu%s\n", (unsigned long)(GetTickCount() - t0), retried ? " retried" : "");
            } else {
                GetExitCodeProcess(pi.hProcess, &rc);
                fprintf(out, "%lu %lu%s\n", (unsigned long)rc, (unsigned long)(GetTickCount() - t0),
                        retried ? " retried" : "");
            }
            if (ok) {
                CloseHandle(pi.hProcess);
                CloseHandle(pi.hThread);
            }
            fflush(out);
            free(line);
        }
    }
    fclose(in);
    fclose(out);
    return 0;
}
