"""The texts a simulated node prints, in en-US (code page 437) and ja-JP (code page 932).

Formats follow the real captures in ``shared/reference/outputs`` and ``windows-tools.md``. Where a
Japanese text is not documented there, the rendering here is our best rendering of the real one and
is marked ``# ja assumed`` in the catalog; the English texts not seen in a capture are marked
``# en assumed``. Parsers must not rely on an assumed text more than on the structure around it.

Every message is a key of :data:`CATALOG`; :meth:`Texts.t` formats it. Texts use ``\\n`` inside;
the tools join lines with CRLF when they print.
"""

# ruff: noqa: E501  (a catalog of literal texts: one message per line reads best)
from __future__ import annotations

from datetime import date, datetime, time
from typing import Literal

Lang = Literal["en-US", "ja-JP"]

# key -> (en-US, ja-JP)
CATALOG: dict[str, tuple[str, str]] = {
    # -- cmd.exe ------------------------------------------------------------------------------
    "cmd.not_recognized": (
        "'{name}' is not recognized as an internal or external command,\noperable program or batch file.",
        "'{name}' は、内部コマンドまたは外部コマンド、\n操作可能なプログラムまたはバッチ ファイルとして認識されていません。",
    ),
    "win.2": ("The system cannot find the file specified.", "指定されたファイルが見つかりません。"),
    "win.3": ("The system cannot find the path specified.", "指定されたパスが見つかりません。"),
    "win.5": ("Access is denied.", "アクセスが拒否されました。"),
    "win.32": (
        "The process cannot access the file because it is being used by another process.",
        "プロセスはファイルにアクセスできません。別のプロセスが使用中です。",
    ),
    "win.15": ("The system cannot find the drive specified.", "指定されたドライブが見つかりません。"),
    "win.53": ("The network path was not found.", "ネットワーク パスが見つかりません。"),
    "win.80": ("The file exists.", "ファイルが存在します。"),
    "win.123": (
        "The filename, directory name, or volume label syntax is incorrect.",
        "ファイル名、ディレクトリ名、またはボリューム ラベルの構文が間違っています。",
    ),
    "win.145": ("The directory is not empty.", "ディレクトリが空ではありません。"),
    "win.183": (
        "Cannot create a file when that file already exists.",
        "既に存在するファイルを作成することはできません。",
    ),
    "cmd.mkdir_exists": (
        "A subdirectory or file {path} already exists.",
        "サブディレクトリまたはファイル {path} は既に存在します。",
    ),
    "cmd.del_not_found": ("Could Not Find {path}", "{path} が見つかりませんでした。"),  # ja assumed
    "cmd.moved": ("        {n} file(s) moved.", "        {n} 個のファイルを移動しました。"),
    "cmd.echo_on": ("ECHO is on.", "ECHO は <ON> です。"),
    "cmd.echo_off": ("ECHO is off.", "ECHO は <OFF> です。"),
    "cmd.ver": ("Microsoft Windows [Version {version}]", "Microsoft Windows [Version {version}]"),
    "cmd.chcp": ("Active code page: {cp}", "現在のコード ページ: {cp}"),
    # KB 830473; ja text as cmd.exe of a ja-JP Windows prints it (unverified here)
    "cmd.line_too_long": ("The input line is too long.", "入力行が長すぎます。"),
    "cmd.syntax": ("The syntax of the command is incorrect.", "コマンドの構文が誤っています。"),
    # cmd.exe when the running batch file is gone before its next line (docs/windows-facts.md);
    # ja text assumed
    "cmd.batch_missing": ("The batch file cannot be found.", "バッチ ファイルが見つかりません。"),
    "cmd.no_label": (
        "The system cannot find the batch label specified - {label}",
        "バッチ ラベルが指定されていません - {label}",  # ja assumed
    ),
    "cmd.env_not_defined": (
        "Environment variable {name} not defined",
        "環境変数 {name} が定義されていません",
    ),
    "cmd.terminate": ("Terminate batch job (Y/N)? ", "バッチ ジョブを終了しますか (Y/N)? "),
    # -- ping -----------------------------------------------------------------------------------
    "ping.head": (
        "Pinging {host} with 32 bytes of data:",
        "{host} に ping を送信しています 32 バイトのデータ:",
    ),
    "ping.reply": (
        "Reply from {host}: bytes=32 time<1ms TTL=128",
        "{host} からの応答: バイト数 =32 時間 <1ms TTL=128",
    ),
    "ping.stats": (
        "Ping statistics for {host}:\n    Packets: Sent = {n}, Received = {n}, Lost = 0 (0% loss),\n"
        "Approximate round trip times in milli-seconds:\n    Minimum = 0ms, Maximum = 0ms, Average = 0ms",
        "{host} の ping 統計:\n    パケット数: 送信 = {n}、受信 = {n}、損失 = 0 (0% の損失)、\n"
        "ラウンド トリップの概算時間 (ミリ秒):\n    最小 = 0ms、最大 = 0ms、平均 = 0ms",
    ),
    "ping.unknown_host": (
        "Ping request could not find host {host}. Please check the name and try again.",
        "ping 要求ではホスト {host} が見つかりませんでした。ホスト名を確認してもう一度実行してください。",
    ),
    # -- net / sc ---------------------------------------------------------------------------------
    "net.starting": ("The {display} service is starting.", "{display} サービスを開始します."),
    "net.started": (
        "The {display} service was started successfully.",
        "{display} サービスは正常に開始されました。",
    ),
    "net.already": (
        "The requested service has already been started.\n\nMore help is available by typing NET HELPMSG 2182.",
        "要求されたサービスは既に開始されています。\n\nNET HELPMSG 2182 と入力すると、より詳しい説明が得られます。",
    ),
    "net.disabled": (
        "System error 1058 has occurred.\n\nThe service cannot be started, either because it is disabled or "
        "because it has no enabled devices associated with it.",
        "システム エラー 1058 が発生しました。\n\n無効であるか、または有効なデバイスが関連付けられていないため、"
        "サービスを開始できません。",
    ),
    "net.no_service": (
        "The service name is invalid.\n\nMore help is available by typing NET HELPMSG 2185.",
        "サービス名が無効です。\n\nNET HELPMSG 2185 と入力すると、より詳しい説明が得られます。",
    ),
    "sc.config_ok": ("[SC] ChangeServiceConfig SUCCESS", "[SC] ChangeServiceConfig SUCCESS"),
    "sc.qc_ok": ("[SC] QueryServiceConfig SUCCESS", "[SC] QueryServiceConfig SUCCESS"),
    "sc.no_service": (
        "[SC] OpenService FAILED 1060:\n\nThe specified service does not exist as an installed service.",
        "[SC] OpenService FAILED 1060:\n\n指定されたサービスはインストールされたサービスとして存在しません。",
    ),
    # -- certutil ---------------------------------------------------------------------------------
    "certutil.in_len": ("Input Length = {n}", "入力長 = {n}"),
    "certutil.out_len": ("Output Length = {n}", "出力長 = {n}"),
    "certutil.ok": (
        "CertUtil: {verb} command completed successfully.",
        "CertUtil: {verb} コマンドは正常に完了しました。",
    ),
    "certutil.failed": (
        "CertUtil: {verb} command FAILED: {hr} (WIN32: {code} {sym})\nCertUtil: {text}",
        "CertUtil: {verb} コマンド エラーです: {hr} (WIN32: {code} {sym})\nCertUtil: {text}",  # ja assumed
    ),
    "certutil.bad_data": (
        "CertUtil: -decode command FAILED: 0x80090005 (-2146893819 NTE_BAD_DATA)\nCertUtil: Bad Data.",
        "CertUtil: -decode コマンド エラーです: 0x80090005 (-2146893819 NTE_BAD_DATA)\nCertUtil: 無効なデータです。",
    ),
    # -- schtasks -----------------------------------------------------------------------------------
    "schtasks.created": (
        'SUCCESS: The scheduled task "{name}" has successfully been created.',
        '成功: スケジュール タスク "{name}" は正しく作成されました。',
    ),
    "schtasks.deleted": (
        'SUCCESS: The scheduled task "{name}" was successfully deleted.',
        '成功: スケジュール タスク "{name}" は正しく削除されました。',
    ),
    "schtasks.run": (
        'SUCCESS: Attempted to run the scheduled task "{name}".',
        '成功: スケジュール タスク "{name}" の実行が試行されました。',
    ),
    "schtasks.already_running": (
        'INFO: scheduled task "{name}" is currently running.',  # en assumed
        '情報: スケジュール タスク "{name}" は現在実行中です。',
    ),
    "schtasks.ended": (
        'SUCCESS: The scheduled task "{name}" has been terminated successfully.',
        '成功: スケジュール タスク "{name}" は正しく終了しました。',  # ja assumed
    ),
    "schtasks.not_running": (
        'ERROR: The scheduled task "{name}" is not running.',  # en assumed
        'エラー: スケジュール タスク "{name}" は実行されていません。',  # ja assumed
    ),
    "schtasks.not_found": (
        "ERROR: The system cannot find the file specified.",
        "エラー: 指定されたファイルが見つかりません。",
    ),
    "schtasks.exists": (
        "ERROR: Cannot create a file when that file already exists.",
        "エラー: 既に存在するファイルを作成することはできません。",
    ),
    "schtasks.bad_option": (
        "ERROR: Invalid argument/option - '{opt}'.\nType \"SCHTASKS {verb} /?\" for usage.",
        "エラー: 無効な引数またはオプションです - '{opt}'。\n使用法については、\"SCHTASKS {verb} /?\" と入力してください。",  # ja assumed
    ),
    "schtasks.missing": (
        "ERROR: Invalid syntax. Mandatory option '{opt}' is missing.\nType \"SCHTASKS {verb} /?\" for usage.",
        "エラー: 無効な構文です。必須のオプション '{opt}' がありません。\n"
        '使用法については、"SCHTASKS {verb} /?" と入力してください。',  # ja assumed
    ),
    "schtasks.bad_value": (
        "ERROR: Invalid value for '{opt}' option.",  # en assumed
        "エラー: '{opt}' オプションの値が無効です。",  # ja assumed
    ),
    "schtasks.bad_st": ("ERROR: Invalid Start Time value.", "エラー: 開始時刻の値が無効です。"),  # ja assumed
    "schtasks.bad_sd": (
        'ERROR: Invalid Start Date (Date should be in "{fmt}" format).',
        'エラー: 開始日が無効です (日付は "{fmt}" の形式で指定してください)。',  # ja assumed
    ),
    "schtasks.st_past": (
        "WARNING: Task may not run because /ST is earlier than current time.",
        "警告: /ST が現時刻よりも早いため、タスクは実行されない可能性があります。",
    ),
    "schtasks.too_long": (
        "ERROR: The value for the option '{opt}' cannot be more than {n} character(s).",
        "エラー: '{opt}' のオプションの値を {n} 文字より多い文字で指定することはできません。",
    ),
    "schtasks.rp_system": (
        "WARNING: The /RP option is ignored for the SYSTEM account.",  # en assumed
        "警告: SYSTEM アカウントでは /RP オプションは無視されます。",  # ja assumed
    ),
    "schtasks.none": (
        "INFO: There are no scheduled tasks presently available at your access level.",
        "情報: 現在のアクセス レベルで使用できるスケジュール タスクはありません。",  # ja assumed
    ),
    "schtasks.none_2003": (
        "INFO: There are no scheduled tasks present in the system.",
        "情報: システムにスケジュールされたタスクはありません。",  # ja assumed
    ),
    "schtasks.folder": ("Folder: {folder}", "フォルダー: {folder}"),
    "schtasks.not_supported": (
        "ERROR: The request is not supported.",  # en assumed
        "エラー: 要求はサポートされていません。",  # ja assumed
    ),
    # values shown by /Query (ja assumed except 準備完了)
    "val.na": ("N/A", "N/A"),
    "val.never": ("Never", "なし"),
    "val.ready": ("Ready", "準備完了"),
    "val.running": ("Running", "実行中"),
    "val.disabled": ("Disabled", "無効"),
    "val.enabled": ("Enabled", "有効"),
    "val.could_not_start": ("Could not start", "開始できませんでした"),
    "val.logon_ib": ("Interactive/Background", "対話型/バックグラウンド"),
    "val.logon_i": ("Interactive only", "対話型のみ"),
    "val.logon_b": ("Background only", "バックグラウンドのみ"),
    "val.once": ("One Time Only", "1 回のみ"),
    "val.daily": ("Daily", "毎日"),
    "val.weekly": ("Weekly", "毎週"),
    "val.monthly": ("Monthly", "毎月"),
    "val.sched_na": (
        "Scheduling data is not available in this format.",
        "この形式ではスケジュール データを使用できません。",
    ),
    "val.every_n_days": ("Every {n} day(s)", "{n} 日ごと"),
    "val.power": (
        "Stop On Battery Mode, No Start On Batteries",
        "バッテリ モードで停止, バッテリで開始しない",
    ),
    "val.power_2003": (
        "No Start On Batteries, Stop On Battery Mode",
        "バッテリで開始しない, バッテリ モードで停止",
    ),
    "val.sched_2003_daily": (
        "At {time} every day, starting {date}",
        "{date} から毎日 {time} に実行",
    ),
    "val.sched_2003_once": ("At {time} on {date}", "{date} の {time} に実行"),
    "val.sched_2003_weekly": (
        "At {time} every {days} of every week, starting {date}",
        "{date} から毎週 {days} の {time} に実行",
    ),
    "val.sched_2003_monthly": (
        "At {time} on day {days} of every month, starting {date}",
        "{date} から毎月 {days} 日の {time} に実行",
    ),
    # -- at ------------------------------------------------------------------------------------
    "at.added": (
        "Added a new job with job ID = {id}",
        "新しいジョブをジョブ ID = {id} で追加しました。",
    ),  # ja assumed
    "at.deprecated": (
        "The AT command has been deprecated. Please use schtasks.exe instead.",
        "AT コマンドは推奨されていません。代わりに schtasks.exe を使用してください。",  # ja assumed
    ),
    "at.empty": ("There are no entries in the list.", "一覧にエントリがありません。"),  # ja assumed
    "at.header": (
        "Status ID   Day                     Time          Command Line",
        "状態   ID   日付                    時刻          コマンド ライン",  # ja assumed
    ),
    "at.no_id": ("The AT job ID does not exist.", "AT ジョブ ID が存在しません。"),  # ja assumed
    "at.not_started": ("The service has not been started.", "サービスは開始されていません。"),
    "at.error_status": ("Error", "エラー"),  # ja assumed
    "at.each": ("Each", "毎週"),  # ja assumed
    "at.each_month": ("Each", "毎月"),  # ja assumed
    "at.next": ("Next", "次の"),  # ja assumed
    "at.today": ("Today", "今日"),  # ja assumed
    "at.tomorrow": ("Tomorrow", "明日"),  # ja assumed
    "at.days": ("M T W Th F S Su", "月 火 水 木 金 土 日"),  # ja assumed
    "at.view": (
        "Task ID:      {id}\nStatus:       {status}\nSchedule:     {schedule}\nTime of Day:  {time}\n"
        "Interactive:  {interactive}\nCommand:      {command}",
        "タスク ID:    {id}\n状態:         {status}\nスケジュール: {schedule}\n時刻:         {time}\n"
        "対話型:       {interactive}\nコマンド:     {command}",  # ja assumed
    ),
    "at.ok": ("OK", "OK"),
    "at.yes": ("Yes", "はい"),
    "at.no": ("No", "いいえ"),
    "at.usage": (
        "The syntax of this command is:\n\nAT [\\\\computername] [ [id] [/DELETE] | /DELETE [/YES]]\n"
        'AT [\\\\computername] time [/INTERACTIVE]\n    [ /EVERY:date[,...] | /NEXT:date[,...]] "command"',
        "このコマンドの構文:\n\nAT [\\\\computername] [ [id] [/DELETE] | /DELETE [/YES]]\n"
        'AT [\\\\computername] time [/INTERACTIVE]\n    [ /EVERY:date[,...] | /NEXT:date[,...]] "command"',  # ja assumed
    ),
    "at.delete_all_prompt": (
        "This operation will delete all scheduled jobs.\nDo you want to continue this operation? (Y/N) [N]: ",
        "この操作は、スケジュールされたすべてのジョブを削除します。\nこの操作を続行しますか? (Y/N) [N]: ",  # ja assumed
    ),
    "at.not_supported": ("The request is not supported.", "要求はサポートされていません。"),
    # -- wbadmin (en-US from captures unless marked; ja-JP: first line and get-versions labels from
    #    windows-tools.md §9, the rest assumed) --------------------------------------------------------
    "wb.head": (
        "wbadmin 1.0 - Backup command-line tool\n(C) Copyright Microsoft Corporation. All rights reserved.",
        "wbadmin 1.0 - バックアップ コマンド ライン ツール\n(C) Copyright Microsoft Corporation. All rights reserved.",
    ),
    "wb.share_note": (
        "Note: The backed up data cannot be securely protected at this destination.\n"
        "Backups stored on a remote shared folder might be accessible by other\n"
        "people on the network. You should only save your backups to a location\n"
        "where you trust the other users who have access to the location or on a\n"
        "network that has additional security precautions in place.",
        "注意: バックアップされたデータは、この保存先では安全に保護できません。\n"
        "リモート共有フォルダーに保存されたバックアップには、ネットワーク上の他のユーザーが\n"
        "アクセスできる可能性があります。バックアップは、その場所にアクセスできる他のユーザーを\n"
        "信頼できる場所、または追加のセキュリティ対策が施されたネットワーク上にのみ保存してください。",  # ja assumed
    ),
    "wb.retrieving": ("Retrieving volume information...", "ボリューム情報を取得しています..."),  # ja assumed
    "wb.will_back_up": (
        "This will back up {items} to {target}.",
        "{items} を {target} にバックアップします。",
    ),  # ja assumed
    "wb.selected": ("(Selected Files)", "(選択されたファイル)"),  # ja assumed
    "wb.starting": (
        "The backup operation to {target} is starting.",
        "{target} へのバックアップ操作を開始しています。",  # ja assumed
    ),
    "wb.updating": (
        "Windows Server Backup is updating the existing backup to remove files that have been deleted from your "
        "server since the last backup.",
        "Windows Server バックアップは、前回のバックアップ以降にサーバーから削除されたファイルを削除するため、"
        "既存のバックアップを更新しています。",  # ja assumed
    ),
    "wb.shadow": (
        "Creating a shadow copy of the volumes specified for backup...",
        "バックアップ対象として指定されたボリュームのシャドウ コピーを作成しています...",  # ja assumed
    ),
    "wb.identify": (
        "Please wait while files to backup for volume {vol} are identified.\nThis might take several minutes.",
        "ボリューム {vol} のバックアップ対象ファイルを特定しています。しばらくお待ちください。\n"
        "これには数分かかる場合があります。",  # ja assumed
    ),
    "wb.scanning": ("Scanning the file system...", "ファイル システムをスキャンしています..."),  # ja assumed
    "wb.found": ("Found ({n}) files.", "({n}) 個のファイルが見つかりました。"),  # ja assumed
    "wb.copied": (
        "Creating a backup of volume {vol}, copied ({pct}%).",
        "ボリューム {vol} のバックアップを作成しています。({pct}%) をコピーしました。",  # ja assumed
    ),
    "wb.summary": ("Summary of the backup operation:", "バックアップ操作の概要:"),  # ja assumed
    "wb.ok": (
        "The backup operation successfully completed.",
        "バックアップ操作は正常に完了しました。",
    ),  # ja assumed
    "wb.vol_ok": (
        "The backup of volume {vol} completed successfully.",
        "ボリューム {vol} のバックアップは正常に完了しました。",  # ja assumed
    ),
    "wb.vol_ok_61": (
        "The backup of volume {vol} successfully completed.",
        "ボリューム {vol} のバックアップは正常に完了しました。",  # ja assumed
    ),
    "wb.log_ok": (
        "Log of files successfully backed up:",
        "正常にバックアップされたファイルのログ:",
    ),  # ja assumed
    "wb.stopped": (
        "The backup operation stopped before completing.",  # en assumed
        "バックアップ操作は完了前に停止しました。",  # ja assumed
    ),
    "wb.error": ("ERROR - {message}", "エラー - {message}"),  # ja assumed
    "wb.e_volume": (
        "A volume specified for backup ({vol}) could not be found. Make sure the volume is attached and "
        "online, then try again.",  # en assumed (no real capture of this failure exists)
        "バックアップ対象として指定されたボリューム ({vol}) が見つかりませんでした。"
        "ボリュームが接続され、オンラインであることを確認してから、もう一度実行してください。",  # ja assumed
    ),
    "wb.e_path": (
        "The path {path} specified for backup could not be found.",  # en assumed
        "バックアップ対象として指定されたパス {path} が見つかりませんでした。",  # ja assumed
    ),
    "wb.e_target": (
        "The backup storage location {target} could not be found or is not a supported backup storage location.",
        "バックアップ保存先 {target} が見つからないか、サポートされていないバックアップ保存先です。",  # ja assumed
    ),
    "wb.e_switchover": (
        "The backup storage location {target} is a cluster switchover partition; it cannot hold backups (WSB-2).",
        "バックアップ保存先 {target} はクラスターの切替パーティションのため、バックアップを保存できません (WSB-2)。",
    ),  # the model's refusal (rule WSB-2); real wbadmin would not know about CLUSTERPRO
    "wb.e_target_included": (
        "The backup storage location cannot be one of the volumes included in the backup.",  # en assumed
        "バックアップ保存先を、バックアップに含まれるボリュームにすることはできません。",  # ja assumed
    ),
    "wb.e_need_target": (
        "The -backupTarget parameter is required with -include.",  # en assumed
        "-include を指定する場合は -backupTarget パラメーターが必要です。",  # ja assumed
    ),
    "wb.e_vss_both": (
        "The -vssFull and -vssCopy parameters cannot be used together.",  # en assumed
        "-vssFull と -vssCopy パラメーターを同時に使用することはできません。",  # ja assumed
    ),
    "wb.e_volumes_only": (
        "Only whole volumes can be included in a backup on this version of Windows.",  # en assumed
        "このバージョンの Windows では、バックアップに含めることができるのはボリューム全体のみです。",  # ja assumed
    ),
    "wb.e_param": ("Invalid parameter {param}.", "無効なパラメーター {param} です。"),  # both assumed
    "wb.e_missing": (
        "The parameter {param} is required.",
        "パラメーター {param} が必要です。",
    ),  # both assumed
    "wb.e_net": ("The network path was not found.", "ネットワーク パスが見つかりません。"),
    "wb.e_no_versions": ("No backups were found.", "バックアップが見つかりませんでした。"),  # both assumed
    "wb.e_version": (
        "The backup version {version} could not be found at the backup location.",  # en assumed
        "バックアップ バージョン {version} がバックアップ場所に見つかりませんでした。",  # ja assumed
    ),
    "wb.e_item": (
        "The item {item} is not in the backup {version}.",  # en assumed
        "項目 {item} はバックアップ {version} に含まれていません。",  # ja assumed
    ),
    "wb.prompt": (
        "Do you want to start the backup operation?\n[Y] Yes [N] No ",
        "バックアップ操作を開始しますか?\n[Y] はい [N] いいえ ",
    ),
    "wb.prompt_recovery": (
        "Do you want to continue?\n[Y] Yes [N] No ",  # en assumed
        "続行しますか?\n[Y] はい [N] いいえ ",  # ja assumed
    ),
    "wb.canceled": ("The operation was canceled.", "操作は取り消されました。"),  # both assumed
    "wb.v_time": ("Backup time: {value}", "バックアップ時間: {value}"),
    "wb.v_location": ("Backup location: {value}", "バックアップ対象: {value}"),
    "wb.v_target": ("Backup target: {value}", "バックアップ対象: {value}"),
    "wb.v_id": ("Version identifier: {value}", "バージョン識別子: {value}"),
    "wb.v_recover": ("Can recover: {value}", "回復可能: {value}"),
    "wb.v_recover_items": ("Volume(s), File(s)", "ボリューム, ファイル"),  # ja assumed
    "wb.v_share": ("Network Share labeled {path}", "ネットワーク共有 ラベル {path}"),  # ja assumed
    "wb.v_disk": ("Fixed Disk labeled {label}", "固定ディスク ラベル {label}"),  # ja assumed
    "wb.r_chosen_files": (
        "You have chosen to recover the file(s) {items} from the\nbackup created on {when} to {target}.",
        "{when} に作成されたバックアップからファイル {items} を {target} に回復することを選択しました。",  # ja assumed
    ),
    "wb.r_chosen_volume": (
        "You have chosen to recover the volume(s) {items} from the\nbackup created on {when} to {target}.",  # en assumed
        "{when} に作成されたバックアップからボリューム {items} を {target} に回復することを選択しました。",  # ja assumed
    ),
    "wb.r_preparing": ("Preparing to recover files...", "ファイルの回復を準備しています..."),  # ja assumed
    "wb.r_running": (
        "Running the recovery operation for {item}, copied ({pct}%).",
        "{item} の回復操作を実行しています。({pct}%) をコピーしました。",  # ja assumed
    ),
    "wb.r_current": ("Currently recovering {item}.", "現在 {item} を回復しています。"),  # ja assumed
    "wb.r_success_item": (
        "Successfully recovered {item} to {target}.",
        "{item} は {target} に正常に回復されました。",
    ),
    "wb.r_completed": ("The recovery operation completed.", "回復操作が完了しました。"),  # ja assumed
    "wb.r_summary": ("Summary of the recovery operation:", "回復操作の概要:"),  # ja assumed
    "wb.r_item_ok": (
        "Recovery of {item} to {target} successfully completed.",
        "{item} から {target} への回復は正常に完了しました。",  # ja assumed
    ),
    "wb.r_bytes": ("Total bytes recovered: {size}", "回復された合計バイト数: {size}"),  # ja assumed
    "wb.r_files": ("Total files recovered: {n}", "回復されたファイルの合計数: {n}"),  # ja assumed
    "wb.r_failed": ("Total files failed: {n}", "失敗したファイルの合計数: {n}"),  # ja assumed
    "wb.r_log": ("Log of files successfully recovered:", "正常に回復されたファイルのログ:"),  # ja assumed
    # -- NTBackup log (format of clpbackup.parsers.ntbackup; en-US and ja-JP assumed, no capture) --------
    "ntb.status": ("Backup Status", "バックアップの状態"),
    "ntb.operation": ("Operation: Backup", "操作: バックアップ"),
    "ntb.destination": ("Active backup destination: {dest}", "アクティブなバックアップ先: {dest}"),
    "ntb.media_name": ('Media name: "{name}"', 'メディア名: "{name}"'),
    "ntb.media_created": ("Media created {when}", "メディア作成日 {when}"),
    "ntb.set_created": ("Set created {when}", "セット作成日 {when}"),
    "ntb.vss_attempt": (
        "Volume shadow copy creation: Attempt 1.",
        "ボリューム シャドウ コピーの作成: 試行 1。",
    ),
    "ntb.vss_error": (
        "Error returned while creating the volume shadow copy:{code}",
        "ボリューム シャドウ コピーの作成中にエラーが返されました: {code}",
    ),
    "ntb.aborting": ("Aborting Backup.", "バックアップを中止します。"),
    "ntb.ended": ("The operation was ended.", "操作は終了されました。"),  # en assumed, ja assumed
    "ntb.not_complete": ("The operation did not successfully complete.", "操作は正常に完了しませんでした。"),
    "ntb.no_media": (
        'Error: No media is available in the media pool "{pool}".',
        'エラー: メディア プール "{pool}" に使用できるメディアがありません。',
    ),
    "ntb.no_tape": (
        'Error: The tape "{tape}" could not be found.',
        'エラー: テープ "{tape}" が見つかりません。',
    ),
    "ntb.file_error": (
        'Error: The backup file "{path}" could not be created.',
        'エラー: バックアップ ファイル "{path}" を作成できません。',
    ),
    "ntb.skipped": (
        'Warning: Unable to open "{path}" - skipped.',
        '警告: "{path}" を開けません - スキップしました。',
    ),
    "ntb.of_snap": ('Backup (via shadow copy) of "{name}"', '"{name}" のバックアップ (シャドウ コピー経由)'),
    "ntb.of": ('Backup of "{name}"', '"{name}" のバックアップ'),
    "ntb.set_on_media": ("Backup set #{n} on media #1", "メディア #1 のバックアップ セット #{n}"),
    "ntb.description": ('Backup description: "{text}"', 'バックアップの説明: "{text}"'),
    "ntb.type": ("Backup Type: {kind}", "バックアップの種類: {kind}"),
    "ntb.kind.normal": ("Normal", "標準"),
    "ntb.kind.copy": ("Copy", "コピー"),
    "ntb.kind.differential": ("Differential", "差分"),
    "ntb.kind.incremental": ("Incremental", "増分"),
    "ntb.kind.daily": ("Daily", "日単位"),
    "ntb.started": ("Backup started on {when}.", "バックアップ開始: {when}"),
    "ntb.completed": ("Backup completed on {when}.", "バックアップ完了: {when}"),
    "ntb.dirs": ("Directories: {n}", "ディレクトリ: {n}"),
    "ntb.files": ("Files: {n}", "ファイル: {n}"),
    "ntb.bytes": ("Bytes: {n}", "バイト: {n}"),
    "ntb.time": ("Time:  1 second", "時間: 1 秒"),
    "ntb.different": ("Different: 0", "相違: 0"),
    "ntb.verify_status": ("Verify Status", "確認の状態"),
    "ntb.verify_operation": ("Operation: Verify", "操作: 確認"),
    "ntb.verify_of": ('Verify of "{name}"', '"{name}" の確認'),
    "ntb.verify_started": ("Verify started on {when}.", "確認開始: {when}"),
    "ntb.verify_completed": ("Verify completed on {when}.", "確認完了: {when}"),
    # -- rsm (both assumed: no capture) -----------------------------------------------------------------
    "rsm.ok": ("The command completed successfully.", "コマンドは正常に終了しました。"),
    "rsm.no_library": (
        'Error: The library "{name}" was not found. Library names are case-sensitive (rsm view /tlibrary).',
        'エラー: ライブラリ "{name}" が見つかりません。ライブラリ名は大文字と小文字が区別されます (rsm view /tlibrary)。',
    ),
    "rsm.library_header": ("LIBRARY", "ライブラリ"),
}


class Texts:
    """The texts and date/time formats of one node's locale."""

    def __init__(self, lang: Lang = "en-US") -> None:
        self.lang: Lang = lang
        self._i = 0 if lang == "en-US" else 1

    @property
    def ja(self) -> bool:
        return self.lang == "ja-JP"

    def t(self, key: str, **kw: object) -> str:
        """The message ``key`` in this locale, formatted with ``kw``."""
        text = CATALOG[key][self._i]
        return text.format(**kw) if kw else text

    # -- the regional formats Windows uses in tool output --------------------------------------
    def short_date(self, d: date) -> str:
        """en-US ``1/15/2024``; ja-JP ``2024/01/15``."""
        if self.ja:
            return f"{d.year:04d}/{d.month:02d}/{d.day:02d}"
        return f"{d.month}/{d.day}/{d.year:04d}"

    def short_date_pattern(self) -> str:
        """The pattern schtasks names in its /SD error."""
        return "yyyy/mm/dd" if self.ja else "mm/dd/yyyy"

    def long_time(self, t: time | datetime) -> str:
        """en-US ``1:05:09 AM``; ja-JP ``1:05:09``."""
        if self.ja:
            return f"{t.hour}:{t.minute:02d}:{t.second:02d}"
        h12 = t.hour % 12 or 12
        return f"{h12}:{t.minute:02d}:{t.second:02d} {'AM' if t.hour < 12 else 'PM'}"

    def short_time(self, t: time | datetime) -> str:
        """en-US ``1:05 AM``; ja-JP ``1:05``."""
        if self.ja:
            return f"{t.hour}:{t.minute:02d}"
        h12 = t.hour % 12 or 12
        return f"{h12}:{t.minute:02d} {'AM' if t.hour < 12 else 'PM'}"

    def datetime_long(self, dt: datetime) -> str:
        """Short date + long time (schtasks ``Last Run Time`` on 2008+)."""
        return f"{self.short_date(dt)} {self.long_time(dt)}"

    def datetime_short(self, dt: datetime) -> str:
        """Short date + short time (wbadmin ``Backup time``)."""
        return f"{self.short_date(dt)} {self.short_time(dt)}"

    def parse_short_date(self, text: str) -> date:
        """Parse a date in this locale's short-date order (``ValueError`` otherwise)."""
        bits = text.strip().split("/")
        if len(bits) != 3 or not all(b.isdigit() for b in bits):
            raise ValueError(text)
        a, b, c = (int(x) for x in bits)
        if self.ja:
            return date(a, b, c)
        return date(c, a, b)
