connect\(\) (to \S+ )?failed \((111|2|13|11|99|113|101):
upstream timed out \(110: [^)]*\) while (connecting to|sending request to|reading response header from|SSL handshaking to) upstream
no live upstreams while connecting to upstream
\S+ could not be resolved \(
no resolver defined to resolve
(writev|send|sendfile|SSL_write)\(\) failed \((104|32): [^)]*\) while sending request to upstream
upstream prematurely closed (connection|FastCGI stdout) while reading response header from upstream
(recv|readv|SSL_read)\(\) failed \(104: [^)]*\) while reading response header from upstream
upstream sent (too big header|invalid header|unsupported FastCGI|unexpected FastCGI|invalid FastCGI|invalid status|too large http2|duplicate header line: "(Content-Length|Transfer-Encoding))
SSL_do_handshake\(\) failed .* while SSL handshaking to upstream
upstream SSL certificate (verify error|does not match)
