"""Reason texts of the drivers and services -> 简体中文, for the Chinese screens.

The drivers and the command service explain a BAD value, a device state, a failed or
refused write in English ("timeout after 1.0 s on hr 100-109; retry in 2 s"). Those
English texts stay as they are in the logs, the journal and the audit; the Chinese
screens pass them through :func:`to_zh` when they show them.

Each rule is one anchored regex with named groups and a Chinese template. A group whose
name starts with ``r`` is itself a reason and is translated again (so "...; retry in 2 s"
around any reason works); a group starting with ``w`` is a word looked up in
:data:`~hmi.core.reason_words.WORDS` (device states, Modbus tables and exception names, roles, actions); every
other group (addresses, ids, numbers, values) is inserted as it is. A text no rule knows
passes through unchanged, so nothing is ever lost.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from hmi.core.reason_words import WORDS


@dataclass(frozen=True)
class Rule:
    """One reason pattern: an anchored regex and its Chinese template."""

    pattern: re.Pattern[str]
    zh: str
    example: str  # a text of this pattern as the code produces it (tests use it)


def _rule(en: str, zh: str, example: str) -> Rule:
    return Rule(re.compile(f"^(?:{en})$", re.DOTALL), zh, example)


_S = r"(?P<s>\d+(?:\.\d+)?)"  # seconds
_PEER = r"(?P<peer>\S+)"
_WHERE = r"(?P<w_table>hr|ir|co|di) (?P<range>\d+-\d+)"
_S7WHERE = r"(?P<area>DB\d+|PE|PA|MK) bytes (?P<range>\d+-\d+)"

#: every reason pattern, most specific first (the first full match wins)
RULES: tuple[Rule, ...] = (
    # ---- wrappers around another reason (drivers.base, drivers.opcua.driver)
    _rule(
        r"(?P<r>.+); retry in " + _S + " s",
        "{r}；{s} s 后重试",
        "connection refused 127.0.0.1:5020; retry in 2 s",
    ),
    _rule(
        r"(?P<r>.+) \((?P<n>\d+) failed cycles\)",
        "{r}（连续 {n} 个周期失败）",
        "timeout after 1.0 s on hr 0-9 (3 failed cycles)",
    ),
    _rule(
        r"(?P<r>.+) \((?P<n>\d+) times\)",
        "{r}（{n} 次）",
        "session lost (BadConnectionClosed) (2 times)",
    ),
    _rule(
        r"(?P<r>.+) on " + _WHERE,
        "{w_table} {range}：{r}",
        "Modbus exception 2 (illegal data address) on hr 100-109",
    ),
    _rule(
        r"(?P<r>.+) on (?P<where>(?:hr|ir|co|di):\S+)",
        "{where}：{r}",
        "timeout after 1.0 s on hr:100",
    ),
    _rule(
        r"(?P<r>.+) on " + _S7WHERE,
        "{area} 字节 {range}：{r}",
        "S7 error 0x05 (object does not exist (no such DB or area)) on DB1 bytes 0-9",
    ),
    _rule(
        r"(?P<r>.+) writing (?P<addr>\S+)",
        "写 {addr} 时：{r}",
        "S7 error 0x03 (access to the object not allowed) writing DB1.DBW4",
    ),
    _rule(
        r"(?P<path>\S+): (?P<r>.+); what is stored is kept, new data waits in memory",
        "{path}：{r}；已存数据保留，新数据暂存内存",
        "/var/lib/gas-hmi/history.db: database or disk is full; what is stored is kept, new data waits in memory",
    ),
    _rule(
        r"(?P<name>\S+) was damaged \((?P<r>.+?)\): moved to (?P<moved>\S+), (?P<n>\d+) row\(s\) salvaged "
        r"into a fresh (?P<fresh>[^\s;]+)(?P<rest>; .+)?",
        "{name} 已损坏（{r}）：已移至 {moved}，{n} 行数据已抢救到新的 {fresh}{rest}",
        "alarms.db was damaged (database disk image is malformed): moved to alarms.db.damaged-1, "
        "12 row(s) salvaged into a fresh alarms.db",
    ),
    _rule(
        r"; nothing readable in (?P<tables>.+)",
        "；{tables} 中无可读数据",
        "; nothing readable in alarm_state",
    ),
    _rule(r"retention: (?P<r>.+)", "历史数据清理：{r}", "retention: database is locked"),
    _rule(
        r"not connected: (?P<r>.+)",
        "未连接：{r}",
        "not connected: connection refused 127.0.0.1:4840",
    ),
    _rule(
        r"config error: (?P<r>.+)", "配置错误：{r}", "config error: no Modbus point with index 7"
    ),
    _rule(r"write failed: (?P<r>.+)", "写入失败：{r}", "write failed: timeout after 1.0 s"),
    _rule(r"not written: (?P<r>.+)", "未写入：{r}", "not written: device plc1 is not running"),
    _rule(
        r"(?P<r1>.+)\s*\(NOT AUDITED: (?P<r2>.+)\)",
        "{r1}（未记入审计：{r2}）",
        "written and read back (NOT AUDITED: timed out)",
    ),
    _rule(r"no permission: (?P<r>.+)", "无权限：{r}", "no permission: user op1 is disabled"),
    _rule(r"denied: (?P<r>.+)", "拒绝：{r}", "denied: PCV-501.sp does not accept remote writes"),
    # ---- device states (drivers.base)
    _rule(
        r"connecting to (?P<peer>\S+ TSAP \S+)",
        "正在连接 {peer}",
        "connecting to s7://127.0.0.1:102 TSAP 0100/0101",
    ),
    _rule(r"connecting to " + _PEER, "正在连接 {peer}", "connecting to 127.0.0.1:5020/1"),
    _rule(
        r"connected to (?P<peer>\S+), PDU (?P<pdu>\d+), CPU (?P<w_cpu>\S+)",
        "已连接 {peer}，PDU {pdu}，CPU {w_cpu}",
        "connected to 127.0.0.1:102, PDU 480, CPU run",
    ),
    _rule(r"connected to " + _PEER, "已连接 {peer}", "connected to 127.0.0.1:5020/1"),
    _rule(r"recovered", "已恢复", "recovered"),
    _rule(r"reads recovered", "读取已恢复", "reads recovered"),
    _rule(r"not connected", "未连接", "not connected"),
    _rule(r"stopped", "已停止", "stopped"),
    _rule(r"bad value", "坏值", "bad value"),  # hmi.core.tagtable: a non-finite reading
    _rule(r"not connected yet", "尚未连接", "not connected yet"),
    _rule(
        r"device (?P<dev>\S+) is not connected \((?P<w_state>\w+)\)",
        "设备 {dev} 未连接（{w_state}）",
        "device plc1 is not connected (backoff)",
    ),
    _rule(r"device (?P<dev>\S+) is not running", "设备 {dev} 未运行", "device plc1 is not running"),
    # ---- connection (Modbus, S7, IEC 104, OPC UA)
    _rule(
        r"connection refused " + _PEER, "连接被拒绝：{peer}", "connection refused 127.0.0.1:5020"
    ),
    _rule(
        r"connect timeout after " + _S + " s to " + _PEER,
        "连接 {peer} 超时（{s} s）",
        "connect timeout after 1.0 s to 10.0.0.9:502",
    ),
    _rule(
        r"connect timeout after t0 = " + _S + " s to " + _PEER,
        "连接 {peer} 超时（t0 = {s} s）",
        "connect timeout after t0 = 2 s to 127.0.0.1:2404",
    ),
    _rule(
        r"cannot connect to " + _PEER + r" \(refused or unreachable\)",
        "无法连接 {peer}（被拒绝或不可达）",
        "cannot connect to 127.0.0.1:2404 (refused or unreachable)",
    ),
    _rule(
        r"cannot connect to " + _PEER + r": (?P<r_os>.+)",
        "无法连接 {peer}：{r_os}",
        "cannot connect to 10.0.0.9:502: No route to host",
    ),
    _rule(
        r"connection lost to " + _PEER + r" \((?P<r_os>.+)\)",
        "与 {peer} 的连接中断（{r_os}）",
        "connection lost to 127.0.0.1:5020 (connection reset by peer)",
    ),
    _rule(
        r"connection lost to " + _PEER + r": (?P<r_os>.+)",
        "与 {peer} 的连接中断：{r_os}",
        "connection lost to 127.0.0.1:102: connection reset by peer",
    ),
    _rule(
        r"connection lost to " + _PEER, "与 {peer} 的连接中断", "connection lost to 127.0.0.1:5020"
    ),
    _rule(
        r"connection lost \((?P<exc>\w+): (?P<r_os>.+)\)",
        "连接中断（{exc}：{r_os}）",
        "connection lost (ConnectionError: transport lost)",
    ),
    _rule(
        r"connection lost \((?P<exc>\w+)\)", "连接中断（{exc}）", "connection lost (CancelledError)"
    ),
    _rule(
        r"TCP connection failed: (?P<r>.+)",
        "TCP 连接失败：{r}",
        "TCP connection failed: [Errno 111] Connection refused",
    ),
    _rule(r"\[Errno (?P<n>\d+)\] (?P<r>.+)", "{r}（错误码 {n}）", "[Errno 113] No route to host"),
    _rule(r"connection closed by the device", "设备关闭了连接", "connection closed by the device"),
    _rule(
        r"cannot resolve (?:host )?'?(?P<host>[^\s':]+)'?: (?P<r_os>.+)",
        "无法解析主机 {host}：{r_os}",
        "cannot resolve host 'rtu.example': Name or service not known",
    ),
    _rule(
        r"cannot reach (?P<peer>\S+): (?P<r_os>.+)",
        "无法访问 {peer}：{r_os}",
        "cannot reach 10.0.0.9:4840: Network is unreachable",
    ),
    _rule(
        r"connection refused by (?P<peer>\S+) \(is the OPC UA server running\?\)",
        "{peer} 拒绝连接（OPC UA 服务器是否在运行？）",
        "connection refused by 127.0.0.1:4840 (is the OPC UA server running?)",
    ),
    _rule(
        r"no answer from (?P<peer>\S+) within the timeout \(" + _S + r" s\)",
        "{peer} 在超时时间（{s} s）内无应答",
        "no answer from opc.tcp://127.0.0.1:4840 within the timeout (2 s)",
    ),
    _rule(
        r"(?P<peer>\S+) presented a different certificate during the session than at discovery",
        "{peer} 会话中出示的证书与发现时不同",
        "opc.tcp://127.0.0.1:4840 presented a different certificate during the session than at discovery",
    ),
    _rule(
        r"(?P<peer>\S+) answered (?P<exc>\w+): (?P<detail>.*)",
        "{peer} 返回错误 {exc}：{detail}",
        "opc.tcp://127.0.0.1:4840 answered BadTooManySessions: 0x80560000",
    ),
    _rule(
        r"(?P<peer>\S+) refused (?:user (?P<user>\S+)|anonymous access): "
        r"(?:wrong user name or password|the server requires a user name and password) \((?P<exc>\w+)\)",
        "{peer} 拒绝登录{user}：用户名或密码错误，或服务器要求用户名和密码（{exc}）",
        "opc.tcp://127.0.0.1:4840 refused user 'op1': wrong user name or password (BadUserAccessDenied)",
    ),
    _rule(
        r"(?P<peer>\S+) rejected our client certificate \((?P<exc>\w+)\): add the certificate in "
        r"(?P<own>\S+) to the server's trusted certificates",
        "{peer} 拒绝了本机客户端证书（{exc}）：请将 {own} 中的证书加入服务器的受信任证书",
        "opc.tcp://127.0.0.1:4840 rejected our client certificate (BadSecurityChecksFailed): "
        "add the certificate in /var/lib/gas-hmi/pki/own/cert.der to the server's trusted certificates",
    ),
    _rule(
        r"no keep-alive answer within " + _S + " s",
        "{s} s 内无保活应答",
        "no keep-alive answer within 2 s",
    ),
    _rule(
        r"keep-alive read failed: (?P<exc>\w+)",
        "保活读取失败：{exc}",
        "keep-alive read failed: TimeoutError",
    ),
    _rule(r"session lost \((?P<r>.+)\)", "会话丢失（{r}）", "session lost (BadConnectionClosed)"),
    _rule(
        r"subscription of the " + _S + " s group stopped publishing",
        "{s} s 组的订阅已停止发布",
        "subscription of the 1 s group stopped publishing",
    ),
    _rule(
        r"(?P<peer>\S+) closed the connection during start-up",
        "{peer} 在启动过程中关闭了连接",
        "127.0.0.1:2404 closed the connection during start-up",
    ),
    _rule(
        r"no end of the start-up \((?P<w_what>.+)\) within t1 = " + _S + " s",
        "t1 = {s} s 内启动未完成（{w_what}）",
        "no end of the start-up (STARTDT) within t1 = 15 s",
    ),
    # ---- one request (Modbus, S7)
    _rule(r"timeout after " + _S + " s", "超时（{s} s 无应答）", "timeout after 1.0 s"),
    _rule(
        r"Modbus exception (?P<code>\d+) \((?P<w_exc>[^)]*)\)",
        "Modbus 异常 {code}（{w_exc}）",
        "Modbus exception 2 (illegal data address)",
    ),
    _rule(
        r"malformed reply \(function code (?P<got>\d+), expected (?P<want>\d+)\)",
        "应答格式错误（功能码 {got}，应为 {want}）",
        "malformed reply (function code 4, expected 3)",
    ),
    _rule(
        r"malformed reply \(undecodable frame\)",
        "应答格式错误（无法解码的帧）",
        "malformed reply (undecodable frame)",
    ),
    _rule(
        r"malformed reply \((?P<detail>.*)\)",
        "应答格式错误（{detail}）",
        "malformed reply (0x83 0x02)",
    ),
    _rule(
        r"short reply: (?P<n>\d+) of (?P<m>\d+) (?P<w_unit>bits|registers)",
        "应答过短：收到 {n}/{m} 个{w_unit}",
        "short reply: 4 of 10 registers",
    ),
    _rule(
        r"short reply reading (?P<addr>\S+) before setting bit (?P<bit>\d+)",
        "置位 {bit} 前读取 {addr} 应答过短",
        "short reply reading hr:4.3 before setting bit 3",
    ),
    _rule(
        r"request failed: (?P<exc>\w+): (?P<detail>.*)",
        "请求失败：{exc}：{detail}",
        "request failed: RuntimeError: 0x7f",
    ),
    _rule(
        r"S7 error 0x(?P<code>[0-9a-f]+) \((?P<w_s7>.+)\)",
        "S7 错误 0x{code}（{w_s7}）",
        "S7 error 0x0a (object does not exist (no such DB or area))",
    ),
    _rule(
        r"no (?P<proto>Modbus|S7|IEC 104) point with index (?P<i>\d+)",
        "无此 {proto} 数据点（索引 {i}）",
        "no Modbus point with index 7",
    ),
    # ---- quality reasons
    _rule(
        r"IEC 104 quality (?P<abbr>[A-Z+]+) \((?P<w_bits>.+)\)",
        "IEC 104 品质 {abbr}（{w_bits}）",
        "IEC 104 quality NT+SB (not topical, substituted)",
    ),
    _rule(r"(?P<w_ua>(?:Bad|Uncertain)[A-Za-z]+)", "{w_ua}", "BadSensorFailure"),
    _rule(r"not a number: (?P<t>\w+)", "非数值（{t}）", "not a number: str"),
    _rule(
        r"double point intermediate \(0\): the device is between positions",
        "双点中间态（0）：设备处于两位置之间",
        "double point intermediate (0): the device is between positions",
    ),
    _rule(
        r"double point indeterminate \(3\): the position contacts disagree",
        "双点不确定（3）：位置触点矛盾",
        "double point indeterminate (3): the position contacts disagree",
    ),
    _rule(
        r"no value since connect: the RTU did not report (?P<addr>\S+) in its general interrogation "
        r"\(check the IOA and type against the RTU's point list and the common address\)",
        "连接后无数值：RTU 总召唤未上送 {addr}（请对照 RTU 点表核对 IOA、类型和公共地址）",
        "no value since connect: the RTU did not report M_ME_NC_1:1001 in its general interrogation "
        "(check the IOA and type against the RTU's point list and the common address)",
    ),
    # ---- writes (drivers, hmi.core.writer)
    _rule(r"written and read back", "已写入并回读确认", "written and read back"),
    _rule(r"written as (?P<vt>\w+)", "已按 {vt} 写入", "written as Float"),
    _rule(r"wrote (?P<v>.+) to (?P<addr>.+)", "已将 {v} 写入 {addr}", "wrote 23.0 to hr:10"),
    _rule(
        r"(?P<cmd>\S+) confirmed by the RTU \((?P<how>.+)\)",
        "RTU 已确认 {cmd}（{how}）",
        "C_SE_NC_1:2001 confirmed by the RTU (ACT_CON)",
    ),
    _rule(
        r"the RTU refused (?P<cmd>\S+) \(negative confirmation, (?P<how>.+)\)",
        "RTU 拒绝 {cmd}（否定确认，{how}）",
        "the RTU refused C_SC_NA_1:3001 (negative confirmation, ACT_CON)",
    ),
    _rule(
        r"no confirmation of (?P<cmd>\S+) within " + _S + " s",
        "{s} s 内未收到 {cmd} 的确认",
        "no confirmation of C_SC_NA_1:3001 within 5 s",
    ),
    _rule(
        r"(?P<w_what>.+) not confirmed by the RTU within " + _S + " s",
        "RTU 在 {s} s 内未确认{w_what}",
        "general interrogation not confirmed by the RTU within 5 s",
    ),
    _rule(
        r"no answer to the write within " + _S + " s",
        "{s} s 内写入无应答",
        "no answer to the write within 2 s",
    ),
    _rule(
        r"connection lost during the write: (?P<r>.+)",
        "写入时连接中断：{r}",
        "connection lost during the write: BadConnectionClosed",
    ),
    _rule(
        r"(?P<dev>\S+) is not connected: (?P<r>.+)",
        "{dev} 未连接：{r}",
        "plc1 is not connected: connection refused 127.0.0.1:4840",
    ),
    _rule(
        r"tag (?P<i>\d+) is not a point of device (?P<dev>\S+)",
        "数据点 {i} 不属于设备 {dev}",
        "tag 7 is not a point of device plc1",
    ),
    _rule(
        r"read-back did not confirm the value within (?P<s>\d+) s \(last read (?P<v>.+)\)",
        "{s} s 内回读未确认该值（最后读到 {v}）",
        "read-back did not confirm the value within 5 s (last read 22.0)",
    ),
    # ---- refusals (hmi.core.writer, hmi.core.write_checks, hmi.core.commands)
    _rule(
        r"(?P<tag>\S+) is read-only(?: \(access r\))?",
        "{tag} 为只读",
        "odor.dose.setpoint is read-only (access r)",
    ),
    _rule(
        r"(?P<addr>\S+): (?P<w_table>.+) are read-only",
        "{addr}：{w_table}为只读",
        "ir:1: input registers are read-only",
    ),
    _rule(
        r"(?P<addr>\S+): process inputs are read-only \(the CPU owns them\)",
        "{addr}：过程输入为只读（由 CPU 写入）",
        "PE0.1: process inputs are read-only (the CPU owns them)",
    ),
    _rule(
        r"(?P<tag>\S+): the server's data type of (?P<node>\S+) is not writable",
        "{tag}：服务器上 {node} 的数据类型不可写",
        "PCV-501.sp: the server's data type of ns=2;s=SP is not writable",
    ),
    _rule(
        r"(?P<tag>\S+): (?P<addr>\S+) names no command point \(options\.command\)",
        "{tag}：{addr} 未配置命令点（options.command）",
        "ESD-01.cmd: M_DP_NA_1:101 names no command point (options.command)",
    ),
    _rule(
        r"(?P<addr>\S+): offset 0 does not exist with 1-based addresses",
        "{addr}：从 1 起编址时不存在偏移 0",
        "hr:0: offset 0 does not exist with 1-based addresses",
    ),
    _rule(
        r"unexpected message (?P<type>\S+) IOA (?P<ioa>\d+): (?P<detail>.+)",
        "意外报文 {type} IOA {ioa}：{detail}",
        "unexpected message M_ME_NC_1 IOA 1001: 0x0c",
    ),
    _rule(
        r"remote commands are disabled at this station",
        "本站禁止远程命令",
        "remote commands are disabled at this station",
    ),
    _rule(r"unknown tag (?P<tag>.+)", "未知位号 {tag}", "unknown tag 'PT-999'"),
    _rule(r"(?P<v>.+) is not a number", "{v} 不是数字", "'2,5' is not a number"),
    _rule(
        r"(?P<v>\S+) (?P<u>\S+) is outside the range (?P<lo>\S+)-(?P<hi>\S+) (?P<u2>\S+)",
        "{v} {u} 超出量程 {lo}-{hi} {u2}",
        "9 MPa is outside the range 0-4 MPa",
    ),
    _rule(
        r"(?P<w_act>\w+) needs (?P<w_role>\w+) or higher \((?P<who>.+) is (?:now )?(?P<w_role2>\w+)\)",
        "{w_act}需要{w_role}或更高权限（{who} 为{w_role2}）",
        "write_setpoint needs operator or higher (op1 is viewer)",
    ),
    _rule(
        r"entering (?P<tag>\S+) needs (?P<w_role>\w+) or higher",
        "录入 {tag} 需要{w_role}或更高权限",
        "entering odor.delivered needs engineer or higher",
    ),
    _rule(r"user (?P<user>\S+) is disabled", "用户 {user} 已停用", "user op1 is disabled"),
    _rule(
        r"(?P<tag>\S+) does not accept remote writes",
        "{tag} 不接受远程写入",
        "PCV-501.sp does not accept remote writes",
    ),
    _rule(
        r"remote (?P<w_op>\w+) is disabled at this station",
        "本站禁止远程{w_op}",
        "remote command is disabled at this station",
    ),
    # ---- OPC UA secure connection set-up (drivers.opcua.connection)
    _rule(
        _PEER + r" offers no (?P<sec>\S+) endpoint \(it offers: (?P<offers>.*)\)",
        "{peer} 不提供 {sec} 端点（它提供：{offers}）",
        "opc.tcp://10.0.0.7:4840 offers no Basic256Sha256/SignAndEncrypt endpoint "
        "(it offers: None/None)",
    ),
    _rule(
        _PEER + r" sent no server certificate for a secure endpoint",
        "{peer} 的安全端点未发送服务器证书",
        "opc.tcp://10.0.0.7:4840 sent no server certificate for a secure endpoint",
    ),
    _rule(
        r"a secure (?:connection|endpoint) needs a PKI folder \(pki_dir\)",
        "安全连接需要 PKI 文件夹（pki_dir）",
        "a secure connection needs a PKI folder (pki_dir)",
    ),
    _rule(
        r"unsupported security (?P<sec>\S+)",
        "不支持的安全设置 {sec}",
        "unsupported security Basic128/Sign",
    ),
    # ---- the MQTT uplink (hmi.core.uplink.connection, hmi.core.uplink.service)
    _rule(r"offline: (?P<r>.+)", "已离线：{r}", "offline: connection to 10.0.0.5:1883 lost"),
    _rule(
        r"connection refused by " + _PEER + r" \(is the broker running\?\)",
        "{peer} 拒绝连接（MQTT 服务器是否在运行？）",
        "connection refused by 10.0.0.5:1883 (is the broker running?)",
    ),
    _rule(
        r"no CONNACK from " + _PEER,
        "{peer} 未应答连接请求（无 CONNACK）",
        "no CONNACK from 10.0.0.5:1883",
    ),
    _rule(
        r"broker " + _PEER + r" refused the connection: (?P<w_rc>.+)",
        "MQTT 服务器 {peer} 拒绝连接：{w_rc}",
        "broker 10.0.0.5:1883 refused the connection: Not authorized",
    ),
    _rule(
        r"the broker rejected messages \(not authorised for the topic\?\)",
        "MQTT 服务器拒收消息（无该主题的发布权限？）",
        "the broker rejected messages (not authorised for the topic?)",
    ),
    _rule(
        r"no broker configured \(uplink\.brokers is empty\)",
        "未配置 MQTT 服务器（uplink.brokers 为空）",
        "no broker configured (uplink.brokers is empty)",
    ),
    _rule(
        r"connection to " + _PEER + r" lost \((?P<w_rc>[^()]+)\)",
        "与 {peer} 的连接中断（{w_rc}）",
        "connection to 10.0.0.5:1883 lost (The connection was lost.)",
    ),
    _rule(
        r"connection to " + _PEER + r" lost: (?P<w_why>.+)",
        "与 {peer} 的连接中断：{w_why}",
        "connection to 10.0.0.5:1883 lost: broken pipe",
    ),
    _rule(
        r"connection to " + _PEER + r" lost",
        "与 {peer} 的连接中断",
        "connection to 10.0.0.5:1883 lost",
    ),
    _rule(
        r"publish to " + _PEER + r" failed: (?:\[Errno \d+\] )?(?P<w_why>.+)",
        "向 {peer} 发布失败：{w_why}",
        "publish to 10.0.0.5:1883 failed: [Errno 32] Broken pipe",
    ),
    _rule(
        r"TLS: the certificate of " + _PEER + r" is not trusted \((?P<w_why>.+)\); "
        r"check uplink\.ca_file",
        "TLS：{peer} 的证书不受信任（{w_why}）；请检查 uplink.ca_file",
        "TLS: the certificate of mq.example.com:8883 is not trusted (certificate has expired); "
        "check uplink.ca_file",
    ),
    _rule(
        r"TLS handshake with " + _PEER + r" failed: (?P<x>.+)",
        "与 {peer} 的 TLS 握手失败：{x}",
        "TLS handshake with 10.0.0.5:8883 failed: WRONG_VERSION_NUMBER",
    ),
    _rule(
        r"TLS set-up for " + _PEER + r" failed: (?:\[Errno \d+\] )?(?P<w_why>.+)",
        "{peer} 的 TLS 设置失败：{w_why}",
        "TLS set-up for 10.0.0.5:8883 failed: [Errno 2] No such file or directory",
    ),
    _rule(
        r"no answer from " + _PEER + r" \(timed out\)",
        "{peer} 无应答（超时）",
        "no answer from 10.0.0.5:1883 (timed out)",
    ),
    _rule(
        r"cannot resolve broker host '?(?P<host>[^':]+)'?: (?P<w_why>.+)",
        "无法解析 MQTT 服务器主机名 '{host}'：{w_why}",
        "cannot resolve broker host 'mq.example': Name or service not known",
    ),
    _rule(
        r"primary host (?P<host>\S+) offline",
        "主控主机 {host} 离线",
        "primary host scada1 offline",
    ),
    _rule(
        r"uplink password: (?P<r>.+)",
        "上传口令：{r}",
        "uplink password: no secret name given",
    ),
    _rule(r"no secret name given", "未给出密钥名称", "no secret name given"),
    _rule(r"internal error: (?P<x>.+)", "内部错误：{x}", "internal error: RuntimeError"),
    _rule(
        r"(?P<tag>\S+) changed from (?P<a>.+) to (?P<b>.+) since it was confirmed: confirm again",
        "确认后 {tag} 已由 {a} 变为 {b}：请重新确认",
        "odor.dose.setpoint changed from 22.0 to 23.0 since it was confirmed: confirm again",
    ),
)


def _word(text: str, words: Mapping[str, str] | None) -> str:
    key = text.strip()
    for table in (words or {}, WORDS):
        hit = table.get(key) or table.get(key.lower())
        if hit:
            return hit
    # IEC 104 bit lists ("not topical, substituted") are words joined by commas
    if ", " in key:
        parts = [_word(p, words) for p in key.split(", ")]
        if all(p != q for p, q in zip(parts, key.split(", "), strict=True)):
            return "、".join(parts)
    return text


def _match(text: str, words: Mapping[str, str] | None) -> str | None:
    for rule in RULES:
        m = rule.pattern.match(text)
        if m is None:
            continue
        groups: dict[str, str] = {}
        for name, value in m.groupdict().items():
            v = value or ""
            if name.startswith("r"):
                v = to_zh(v, words)
            elif name.startswith("w_"):
                v = _word(v, words)
            groups[name] = v
        return rule.zh.format(**groups)
    return None


def to_zh(text: str, words: Mapping[str, str] | None = None) -> str:
    """``text`` (a driver's or service's reason) in Chinese; unknown texts unchanged.

    ``words`` adds to :data:`~hmi.core.reason_words.WORDS` (the UI passes its catalog, so area ids and other
    names it knows are translated too). A Chinese headline with an English reason after a
    full-width colon ("通信中断：timeout after 1.0 s") gets its reason translated.
    """
    if not text:
        return text
    head, sep, tail = text.partition("：")
    if sep and not head.isascii():
        return f"{head}：{to_zh(tail, words)}"
    hit = _match(text.strip(), words)
    if hit is not None:
        return hit
    word = _word(text, words)
    return word


def is_known(text: str) -> bool:
    """True when some rule or word translates ``text``."""
    return to_zh(text) != text
