# First version of the image: the official imapsync image plus Node.js and this tool.
# (oauth2c, checksum-verified, and the non-root user come with the Docker issue.)
ARG NODE_IMAGE=node:20.20.2-bookworm-slim
ARG IMAPSYNC_IMAGE=gilleslamiral/imapsync:latest

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY test ./test
COPY bench ./bench
COPY scripts ./scripts
RUN npx tsc -p tsconfig.json && npm prune --omit=dev

FROM ${IMAPSYNC_IMAGE}
COPY --from=build /usr/local/bin/node /usr/local/bin/node
COPY --from=build /app/node_modules /opt/m365-imapsync/node_modules
COPY --from=build /app/dist/src /opt/m365-imapsync/dist/src
COPY --from=build /app/package.json /opt/m365-imapsync/package.json
ENV WORK_DIR=/work
VOLUME ["/work"]
WORKDIR /work
EXPOSE 9876
ENTRYPOINT ["node", "/opt/m365-imapsync/dist/src/cli.js"]
CMD ["--help"]
